// Drives the fault proxy with the unmodified `toxiproxy-node-client` package from npm.
//
// Usage: node toxiproxy_node.js API_PORT UPSTREAM_ADDRESS
//
// UPSTREAM_ADDRESS is an echo server. The script creates and populates proxies, lists them,
// adds, updates and removes toxics, disables and re-enables a proxy, and checks each step's
// effect on real traffic. It exits non-zero with a message on the first failure.

"use strict";

const assert = require("node:assert/strict");
const net = require("node:net");
const { Toxiproxy, ToxiproxyError } = require("toxiproxy-node-client");

function split(address) {
  const index = address.lastIndexOf(":");
  return { host: address.slice(0, index), port: Number(address.slice(index + 1)) };
}

// Sends a message on a new connection and resolves with the milliseconds until it echoes back.
function roundTrip(address, message = "ping") {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(split(address));
    socket.setNoDelay(true);
    socket.setTimeout(10000, () => reject(new Error(`no echo from ${address}`)));
    let received = "";
    let started;
    socket.on("connect", () => {
      started = process.hrtime.bigint();
      socket.write(message);
    });
    socket.on("data", (chunk) => {
      received += chunk.toString();
      if (received.length >= message.length) {
        const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
        socket.destroy();
        assert.equal(received, message);
        resolve(elapsed);
      }
    });
    socket.on("error", reject);
    socket.on("end", () => reject(new Error("closed before the echo arrived")));
  });
}

// Resolves with true if the connection is refused, false if something listens.
function refuses(address) {
  return new Promise((resolve) => {
    const socket = net.createConnection(split(address));
    socket.on("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("error", (error) => resolve(error.code === "ECONNREFUSED"));
  });
}

// A round trip without toxics takes well under a millisecond; this bound only has to separate
// it from the toxics' hundreds of milliseconds on a loaded machine.
const FAST_MS = 200;

async function main() {
  const [apiPort, upstream] = process.argv.slice(2);
  const toxiproxy = new Toxiproxy(`http://127.0.0.1:${apiPort}`);

  const version = JSON.parse(await toxiproxy.getVersion());
  assert.ok(version.version, "the version is reported");

  const proxy = await toxiproxy.createProxy({ name: "node_echo", listen: "127.0.0.1:0", upstream });
  assert.equal(proxy.enabled, true);
  assert.equal(proxy.upstream, upstream);
  assert.ok(!proxy.listen.endsWith(":0"), proxy.listen);
  assert.ok((await roundTrip(proxy.listen)) < FAST_MS);
  console.log(`created ${proxy.name} listening on ${proxy.listen}`);

  await assert.rejects(
    toxiproxy.createProxy({ name: "node_echo", listen: "127.0.0.1:0", upstream }),
    (error) => error instanceof ToxiproxyError && /409/.test(error.message),
  );

  const all = await toxiproxy.getAll();
  assert.deepEqual(Object.keys(all), ["node_echo"]);
  assert.equal((await toxiproxy.get("node_echo")).listen, proxy.listen);

  const latency = await proxy.addToxic({
    name: "slow_down",
    type: "latency",
    stream: "downstream",
    toxicity: 1,
    attributes: { latency: 400, jitter: 0 },
  });
  assert.deepEqual(latency.attributes, { latency: 400, jitter: 0 });
  let delayed = await roundTrip(proxy.listen);
  assert.ok(delayed >= 395 && delayed < 3000, `latency 400 ms gave ${delayed} ms`);

  const updated = await latency.update({ ...latency.toJson(), attributes: { latency: 700, jitter: 0 } });
  assert.equal(updated.attributes.latency, 700);
  assert.equal((await proxy.getToxic("slow_down")).attributes.latency, 700);
  delayed = await roundTrip(proxy.listen);
  assert.ok(delayed >= 695 && delayed < 3300, `latency 700 ms gave ${delayed} ms`);
  console.log(`updated latency toxic delays the echo by ${delayed.toFixed(1)} ms`);

  await assert.rejects(
    proxy.addToxic({ name: "bad", type: "no_such_toxic", stream: "upstream", toxicity: 1, attributes: {} }),
    (error) => error instanceof ToxiproxyError && /400/.test(error.message),
  );

  await updated.remove();
  await assert.rejects(proxy.getToxic("slow_down"), /404/);
  assert.ok((await roundTrip(proxy.listen)) < FAST_MS);
  console.log("removed the latency toxic");

  const disabled = await proxy.update({ ...proxy.toJson(), enabled: false });
  assert.equal(disabled.enabled, false);
  assert.ok(await refuses(proxy.listen), "a disabled proxy must not listen");
  const enabled = await disabled.update({ ...disabled.toJson(), enabled: true });
  assert.equal(enabled.enabled, true);
  assert.ok((await roundTrip(proxy.listen)) < FAST_MS);
  console.log("disabled and re-enabled the proxy");

  const populated = await toxiproxy.populate([
    { name: "node_echo", listen: proxy.listen, upstream },
    { name: "node_second", listen: "127.0.0.1:0", upstream },
  ]);
  assert.deepEqual(Object.keys(populated).sort(), ["node_echo", "node_second"]);
  assert.equal(populated.node_echo.listen, proxy.listen);
  assert.ok((await roundTrip(populated.node_second.listen)) < FAST_MS);

  await enabled.addToxic({ name: "stall", type: "timeout", stream: "upstream", toxicity: 1, attributes: { timeout: 0 } });
  await toxiproxy.reset();
  assert.ok((await roundTrip(proxy.listen)) < FAST_MS);
  console.log("reset removed every toxic");

  await enabled.remove();
  await populated.node_second.remove();
  assert.deepEqual(await toxiproxy.getAll(), {});
  assert.ok(await refuses(proxy.listen));
  console.log("node client: all checks passed");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
