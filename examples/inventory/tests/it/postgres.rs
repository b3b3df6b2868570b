//! Both releases on a real PostgreSQL server (started here from the machine's binaries, on a
//! free loopback port, as the user `nobody` when the tests run as root): the rows come from
//! the PostgreSQL manifest's `[data]` through shadowgate's COPY loader, the schema from each
//! release's `migrate`, and v2's lost index shows in PostgreSQL's plan.

use std::{
    collections::BTreeMap,
    net::TcpListener,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use http::StatusCode;
use shadowgate_core::{manifest, template::Template};
use shadowgate_data::{
    Plan, RowOverrides,
    load::{LoadOptions, load_postgres_url},
    pg::{Client, PgConfig},
};
use shadowgate_example_inventory::{
    database::Conn,
    postgres,
    release::{Release, v1::V1, v2::V2},
};

use crate::{
    dependencies::{DEADLINE, Server, Subscriber, free_port, redis_get, wait_until},
    support::{Binary, HttpClient, Running},
};

const MANIFEST: &str = include_str!("../../shadowgate.postgres.toml");

/// The unprivileged account PostgreSQL runs as when the tests run as root (it refuses root).
const NOBODY: u32 = 65534;

/// A throwaway PostgreSQL server, stopped and removed when dropped.
struct PgServer {
    _dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("postgres").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).expect(
        "these tests need a PostgreSQL server under /usr/lib/postgresql/*/bin; \
         install it (apt-get install postgresql, or `cargo xtask deps`)",
    )
}

fn as_server_user(command: &mut Command, dir: &Path) {
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY)).unwrap();
        command.uid(NOBODY).gid(NOBODY);
    }
}

impl PgServer {
    fn start() -> PgServer {
        let bin = bin_dir();
        let dir = tempfile::Builder::new().prefix("shadowgate-inventory-pg").tempdir().unwrap();
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "inventory", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null());
        as_server_user(&mut initdb, dir.path());
        let status = initdb.status().unwrap();
        assert!(status.success(), "initdb failed: {status}");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = Command::new(bin.join("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        as_server_user(&mut server, dir.path());
        let child = server.spawn().unwrap();
        let mut pg = PgServer { _dir: dir, child, port };
        // Ready when a real connection is accepted (the server refuses them while it starts).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match Client::connect(&pg.config("postgres"), Duration::from_secs(5)) {
                Ok(_) => break,
                Err(err) => {
                    assert!(Instant::now() < deadline, "PostgreSQL did not start: {err}");
                    assert!(pg.child.try_wait().unwrap().is_none(), "PostgreSQL exited");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        pg
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://inventory@127.0.0.1:{}/{database}?sslmode=disable", self.port)
    }

    fn config(&self, database: &str) -> PgConfig {
        PgConfig::parse(&self.url(database)).unwrap()
    }

    fn client(&self, database: &str) -> Client {
        Client::connect(&self.config(database), Duration::from_secs(30)).unwrap()
    }

    /// A new database holding the manifest's `[data]` (seed 1) with `orders` orders and as many
    /// order lines.
    fn loaded_database(&self, name: &str, orders: u64) -> String {
        self.client("postgres").query(&format!("CREATE DATABASE {name}")).unwrap();
        let manifest = manifest::parse(MANIFEST, "shadowgate.postgres.toml")
            .unwrap_or_else(|errs| panic!("{errs}"));
        let data = manifest.data.expect("the PostgreSQL manifest has [data]");
        let overrides: RowOverrides =
            [("orders".to_string(), orders), ("order_lines".to_string(), orders)]
                .into_iter()
                .collect();
        let plan = Plan::new(&data, data.seed.unwrap_or(1), &overrides).unwrap();
        let url = self.url(name);
        let report = load_postgres_url(&url, &plan, &LoadOptions::default()).unwrap();
        assert_eq!(report.rows, 5_000 + 20_000 + 2 * orders);
        url
    }
}

impl Drop for PgServer {
    /// A fast shutdown (SIGINT), so that the server's own processes are gone before its
    /// directory is removed; SIGKILL if it takes more than 10 s.
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) {
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.wait();
    }
}

#[test]
fn v2_loses_the_customer_index_on_postgresql_too_and_both_return_the_same_orders() {
    let pg = PgServer::start();
    let mut plans = Vec::new();
    let mut answers = Vec::new();
    for (name, migrations) in [("v1db", V1.migrations()), ("v2db", V2.migrations())] {
        pg.loaded_database(name, 60_000);
        let mut client = pg.client(name);
        let report = postgres::migrate(&mut client, migrations).unwrap();
        assert_eq!(report.from_version, 0);
        assert_eq!(report.to_version as usize, migrations.len());
        // Migrating again is a no-op.
        assert!(postgres::migrate(&mut client, migrations).unwrap().applied.is_empty());
        plans.push(postgres::orders_of_customer_plan(&mut client).unwrap());
        let orders: Vec<_> = [1, 77, 4_321, 19_999]
            .into_iter()
            .map(|c| postgres::orders_of_customer(&mut client, c, 20).unwrap().unwrap())
            .collect();
        assert!(orders.iter().all(|o| !o.is_empty()), "every customer has orders");
        answers.push(orders);
    }
    assert!(plans[0].contains("orders_by_customer"), "v1 uses the index:\n{}", plans[0]);
    assert!(plans[1].contains("Seq Scan on orders"), "v2 scans the table:\n{}", plans[1]);
    assert_eq!(answers[0], answers[1], "the same data and query give the same rows");
}

/// The statements a release's `customer_orders` sends, counted by PostgreSQL itself: it runs
/// in a transaction, and `pg_stat_xact_user_tables` holds that transaction's index scans.
fn orders_index_scans<R: Release>(release: R, pg: &PgServer, db: &str) -> (Vec<i64>, i64) {
    let mut connection = Conn::Postgres { client: pg.client(db), broken: false };
    let Conn::Postgres { client, .. } = &mut connection else { unreachable!() };
    client.query("BEGIN").unwrap();
    let orders = release.customer_orders(&mut connection, 77, 20).unwrap().unwrap();
    let Conn::Postgres { client, .. } = &mut connection else { unreachable!() };
    let scans = client
        .query("SELECT idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'orders'")
        .unwrap();
    client.query("COMMIT").unwrap();
    let scans = scans[0][0].as_deref().unwrap_or("0").parse().unwrap();
    (orders.iter().map(|o| o.id).collect(), scans)
}

#[test]
fn v2_lists_a_customers_orders_with_one_statement_per_order() {
    let pg = PgServer::start();
    let mut results = Vec::new();
    for (name, migrations) in [("v1db", V1.migrations()), ("v2db", V2.migrations())] {
        pg.loaded_database(name, 60_000);
        postgres::migrate(&mut pg.client(name), migrations).unwrap();
    }
    results.push(orders_index_scans(V1, &pg, "v1db"));
    results.push(orders_index_scans(V2, &pg, "v2db"));
    let ((v1_ids, v1_scans), (v2_ids, v2_scans)) = (&results[0], &results[1]);
    assert!(v1_ids.len() > 1, "customer 77 has several orders: {v1_ids:?}");
    assert_eq!(v1_ids, v2_ids, "both releases answer the same orders in the same order");
    assert_eq!(*v1_scans, 1, "v1: one index scan (orders_by_customer) for the page");
    assert_eq!(
        *v2_scans,
        v2_ids.len() as i64,
        "v2: a sequential scan for the ids, then one primary-key lookup per order"
    );
}

#[tokio::test]
async fn the_release_binaries_serve_from_postgresql_and_leave_seeding_to_data() {
    let pg = PgServer::start();
    let url = pg.loaded_database("shop", 10_000);
    let refused = Binary::V2
        .command()
        .args(["migrate", "--data", &url, "--seed-orders", "10"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("[data]") && stderr.contains("--seed-"), "{stderr}");

    let server = Running::serve(Binary::V1, Path::new(&url), &[]);
    let http = HttpClient::default();
    let health = http.get(&server.url("/healthz")).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["schema_version"], 1);
    let item = http.get(&server.url("/items/17")).await.json();
    assert_eq!(item["item"]["id"], 17);
    let page = http.get(&server.url("/items?category=it's&limit=5")).await;
    assert_eq!(page.status, StatusCode::OK, "a quote in a parameter is data, not SQL");
    assert_eq!(page.json()["items"], serde_json::json!([]));
    let placed = http
        .post(
            &server.url("/orders"),
            r#"{"customer_id": 42, "lines": [{"item_id": 17, "quantity": 2}, {"item_id": 3, "quantity": 1}]}"#,
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let order = placed.json();
    let id = order["id"].as_i64().unwrap();
    assert!(id > 10_000, "new orders are numbered after the loaded ones: {id}");
    let fetched = http.get(&server.url(&format!("/orders/{id}"))).await.json();
    assert_eq!(fetched, order);
    assert_eq!(fetched["lines"].as_array().unwrap().len(), 2);
    let recent = http.get(&server.url("/customers/42/orders?limit=1")).await.json();
    assert_eq!(recent["orders"][0]["id"], id, "the newest order comes first");
    let unknown = http
        .post(
            &server.url("/orders"),
            r#"{"customer_id": 999999, "lines": [{"item_id": 1, "quantity": 1}]}"#,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// The manifest's install and run commands, expanded as shadowgate expands them with the URL
/// forms it gives each kind of dependency, migrate PostgreSQL and serve with all three: views
/// counted in Redis, new orders published on NATS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manifest_commands_use_postgresql_redis_and_nats() {
    let manifest = manifest::parse(MANIFEST, "shadowgate.postgres.toml")
        .unwrap_or_else(|errs| panic!("{errs}"));
    let kinds: Vec<(&str, &str)> = manifest
        .dependencies
        .iter()
        .map(|(name, dep)| (name.as_str(), dep.kind.as_str()))
        .collect();
    assert_eq!(kinds, [("cache", "redis"), ("db", "postgres"), ("events", "nats")]);

    let pg = PgServer::start();
    let redis = Server::redis(free_port());
    let nats = Server::nats(free_port());
    let release_dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(Binary::V1.path(), release_dir.path().join("inventory")).unwrap();
    let values = BTreeMap::from([
        ("release_dir".to_string(), release_dir.path().display().to_string()),
        ("port".to_string(), "0".to_string()),
        ("dep.db.url".to_string(), pg.loaded_database("shop", 1_000)),
        ("dep.cache.url".to_string(), redis.redis_url()),
        ("dep.events.url".to_string(), nats.nats_url()),
    ]);
    for step in &manifest.install {
        let command = Template::parse(&step.command).unwrap().expand(&values).unwrap();
        let output = Command::new("sh").arg("-c").arg(&command).output().unwrap();
        assert!(output.status.success(), "{command}: {}", String::from_utf8_lossy(&output.stderr));
    }
    let run = Template::parse(&manifest.run.command).unwrap().expand(&values).unwrap();
    let mut shell = Command::new("sh");
    shell.arg("-c").arg(format!("exec {run}"));
    let server = Running::spawn(shell);
    let mut subscriber = Subscriber::subscribe(nats.port, "inventory.orders.created");
    let http = HttpClient::default();

    let item = http.get(&server.url("/items/17")).await;
    assert_eq!(item.status, StatusCode::OK);
    let placed = http
        .post(
            &server.url("/orders"),
            r#"{"customer_id": 3, "lines": [{"item_id": 17, "quantity": 1}]}"#,
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let (_, payload) = subscriber.next_message(DEADLINE).expect("the new order is published");
    assert_eq!(payload, placed.body);
    wait_until("the view reaches Redis", || async {
        redis_get(redis.port, "inventory:views:17").as_deref() == Some("1")
    })
    .await;
}
