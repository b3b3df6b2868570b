//! A throw-away PostgreSQL server for tests and benchmarks, and a shared schema.

#![allow(dead_code)]

use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shadowgate_data::pg::{Client, PgConfig};

/// A PostgreSQL server in a temporary directory, listening only on a Unix socket there,
/// stopped and removed on drop.
pub struct TempPg {
    dir: tempfile::TempDir,
    child: Child,
    pub bin: PathBuf,
    pub port: u16,
}

/// The newest `/usr/lib/postgresql/<version>/bin`.
pub fn pg_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); `cargo xtask deps` installs it"
        ),
    }
}

/// uid and gid of `nobody` when running as root (PostgreSQL refuses to run as root).
fn unprivileged() -> Option<(u32, u32)> {
    let me = std::fs::metadata("/proc/self").ok().map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    if me != Some(0) {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    let line = passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("no user `nobody` to run PostgreSQL as");
    let f: Vec<&str> = line.split(':').collect();
    Some((f[2].parse().unwrap(), f[3].parse().unwrap()))
}

fn as_user(cmd: &mut Command, user: Option<(u32, u32)>) -> &mut Command {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

impl TempPg {
    pub fn start() -> TempPg {
        let bin = pg_bin();
        let user = unprivileged();
        let dir = tempfile::Builder::new().prefix("shadowgate-pg-").tempdir().expect("temp dir");
        if let Some((uid, gid)) = user {
            chown(dir.path(), Some(uid), Some(gid)).expect("chown the temp dir to nobody");
        }
        let data = dir.path().join("data");
        let out = as_user(&mut Command::new(bin.join("initdb")), user)
            .args([
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .current_dir(dir.path())
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = 5432;
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        if let Some((uid, gid)) = user {
            chown(dir.path().join("server.log"), Some(uid), Some(gid)).unwrap();
        }
        let child = as_user(&mut Command::new(bin.join("postgres")), user)
            .args([
                "-D",
                data.to_str().unwrap(),
                "-k",
                dir.path().to_str().unwrap(),
                "-p",
                &port.to_string(),
            ])
            .args([
                "-c",
                "listen_addresses=",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start postgres");
        let mut pg = TempPg { dir, child, bin, port };
        pg.wait_ready();
        pg
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let cfg = PgConfig::parse(&self.url("postgres")).unwrap();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("postgres exited ({status}) before it was ready:\n{}", self.log());
            }
            // The probe: a real connection and query. Until the socket exists this fails fast.
            match Client::connect(&cfg, Duration::from_secs(5))
                .and_then(|mut c| c.query("SELECT 1"))
            {
                Ok(rows) if rows == vec![vec![Some("1".to_string())]] => return,
                Ok(rows) => panic!("unexpected probe answer {rows:?}"),
                Err(e) if Instant::now() > deadline => {
                    panic!("postgres not ready after 30 s: {e}\n{}", self.log())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@/{db}?host={}&port={}", self.dir.path().display(), self.port)
    }

    pub fn client(&self, db: &str) -> Client {
        Client::connect(&PgConfig::parse(&self.url(db)).unwrap(), Duration::from_secs(60))
            .expect("connect")
    }

    /// Creates a database and returns its URL.
    pub fn create_db(&self, db: &str) -> String {
        self.client("postgres")
            .query(&format!("CREATE DATABASE \"{db}\""))
            .expect("create database");
        self.url(db)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// One value of a query.
    pub fn scalar(&self, db: &str, sql: &str) -> String {
        let rows = self.client(db).query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows[0][0].clone().unwrap_or_default()
    }
}

impl Drop for TempPg {
    fn drop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown (disconnect clients, stop cleanly).
        let pid = self.child.id() as libc::pid_t;
        unsafe { libc::kill(pid, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A three-table shop: customers, products, orders referencing both.
pub const SHOP: &str = r#"
[[tables]]
name = "orders"
rows = "predicted"

[[tables.columns]]
name = "id"
gen = "sequence"

[[tables.columns]]
name = "customer_id"
gen = "foreign_key"
references = "customers.id"

[[tables.columns]]
name = "product_id"
gen = "foreign_key"
references = "products.id"
s = 1.0

[[tables.columns]]
name = "quantity"
gen = "zipf"
n = 10
s = 1.5

[[tables.columns]]
name = "amount"
gen = "normal"
mean = 80.0
stddev = 25.0
min = 0.5
decimals = 2

[[tables.columns]]
name = "status"
gen = "categorical"
values = ["placed", "paid", "shipped", "cancelled"]
weights = [1, 2, 6, 1]

[[tables.columns]]
name = "placed_at"
gen = "timestamp"
from = "2026-01-01T00:00:00Z"
to = "2026-07-01T00:00:00Z"
increasing = true

[[tables]]
name = "customers"
rows = 20000

[[tables.columns]]
name = "id"
gen = "sequence"

[[tables.columns]]
name = "name"
gen = "text"
min_words = 2
max_words = 3

[[tables.columns]]
name = "country"
gen = "categorical"
values = ["DE", "FR", "US", "it's \\ odd\ttab"]
weights = [3, 1, 5, 1]

[[tables.columns]]
name = "signed_up"
gen = "timestamp"
from = "2020-01-01"
to = "2026-01-01"

[[tables.columns]]
name = "score"
gen = "uniform_float"
min = 0
max = 1
nulls = 0.1

[[tables]]
name = "products"
rows = 2000

[[tables.columns]]
name = "id"
gen = "sequence"
start = 100

[[tables.columns]]
name = "sku"
gen = "text"
min_words = 1
max_words = 1
words = ["a", "b", "c"]

[[tables.columns]]
name = "price"
gen = "uniform_int"
min = 1
max = 500
"#;

pub fn shop_plan(seed: u64, orders: u64) -> shadowgate_data::Plan {
    let cfg: shadowgate_data::DataConfig = toml::from_str(SHOP).unwrap();
    let rows = std::collections::HashMap::from([("orders".to_string(), orders)]);
    shadowgate_data::Plan::new(&cfg, seed, &rows).unwrap()
}
