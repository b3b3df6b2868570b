//! Loading into a real PostgreSQL server started for each test.

mod support;

use shadowgate_data::load::{Format, LoadError, LoadOptions, load_postgres_url, load_sqlite};
use support::{TempPg, shop_plan};

const ORDERS: u64 = 100_000;

fn zipf_top_share(n: u64, s: f64) -> f64 {
    1.0 / (1..=n).map(|k| (k as f64).powf(-s)).sum::<f64>()
}

#[test]
fn copy_text_loads_counts_foreign_keys_and_distributions() {
    let pg = TempPg::start();
    let url = pg.create_db("shop");
    let plan = shop_plan(42, ORDERS);
    let report = load_postgres_url(&url, &plan, &LoadOptions::default()).unwrap();
    assert_eq!(report.rows, ORDERS + 22_000);
    let names: Vec<&str> = report.tables.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names, ["customers", "products", "orders"]);

    let q = |sql: &str| pg.scalar("shop", sql);
    assert_eq!(q("SELECT count(*) FROM customers"), "20000");
    assert_eq!(q("SELECT count(*) FROM products"), "2000");
    assert_eq!(q("SELECT count(*) FROM orders"), ORDERS.to_string());
    // Every foreign key has its parent.
    assert_eq!(
        q(
            "SELECT count(*) FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL"
        ),
        "0"
    );
    assert_eq!(
        q(
            "SELECT count(*) FROM orders o LEFT JOIN products p ON p.id = o.product_id WHERE p.id IS NULL"
        ),
        "0"
    );
    // Keys are unique (sequence) and products start at 100.
    assert_eq!(q("SELECT count(DISTINCT id) FROM customers"), "20000");
    assert_eq!(q("SELECT min(id) || '-' || max(id) FROM products"), "100-2099");

    let share = |sql: &str| q(sql).parse::<f64>().unwrap();
    // Zipf: the top product's and the top quantity's shares of all orders.
    let top_product = share(
        "SELECT count(*)::float8 / (SELECT count(*) FROM orders) FROM orders WHERE product_id = 100",
    );
    let want = zipf_top_share(2000, 1.0);
    assert!((top_product - want).abs() < 0.005, "product rank 1: {top_product} vs {want}");
    let top_quantity = share(
        "SELECT count(*)::float8 / (SELECT count(*) FROM orders) FROM orders WHERE quantity = 1",
    );
    let want = zipf_top_share(10, 1.5);
    assert!((top_quantity - want).abs() < 0.005, "quantity 1: {top_quantity} vs {want}");
    // Categorical weights 1:2:6:1.
    for (status, want) in [("placed", 0.1), ("paid", 0.2), ("shipped", 0.6), ("cancelled", 0.1)] {
        let got = share(&format!(
            "SELECT count(*)::float8 / (SELECT count(*) FROM orders) FROM orders WHERE status = '{status}'"
        ));
        assert!((got - want).abs() < 0.01, "{status}: {got}");
    }
    // The escaped value arrives intact.
    let odd = share(
        "SELECT count(*)::float8 / 20000 FROM customers WHERE country = E'it''s \\\\ odd\\ttab'",
    );
    assert!((odd - 0.1).abs() < 0.02, "odd value share {odd}");
    // NULL fraction, normal moments, increasing timestamps within bounds.
    let nulls = share("SELECT count(*)::float8 / 20000 FROM customers WHERE score IS NULL");
    assert!((nulls - 0.1).abs() < 0.01, "{nulls}");
    let mean = share("SELECT avg(amount) FROM orders");
    let sd = share("SELECT stddev_pop(amount) FROM orders");
    assert!((mean - 80.0).abs() < 0.5 && (sd - 25.0).abs() < 0.5, "{mean} {sd}");
    assert_eq!(
        q(
            "SELECT count(*) FROM (SELECT placed_at < lag(placed_at) OVER (ORDER BY id) AS back FROM orders) x WHERE back"
        ),
        "0"
    );
    assert_eq!(
        q("SELECT min(placed_at) >= '2026-01-01' AND max(placed_at) < '2026-07-01' FROM orders"),
        "t"
    );
}

/// md5 of a whole table in key order.
fn digest(pg: &TempPg, db: &str, table: &str) -> String {
    pg.scalar(db, &format!("SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM {table} t"))
}

#[test]
fn same_seed_loads_identical_tables_in_text_and_binary() {
    let pg = TempPg::start();
    let (a, b, c, d) = (pg.create_db("a"), pg.create_db("b"), pg.create_db("c"), pg.create_db("d"));
    let binary = LoadOptions { format: Format::Binary, chunk_rows: 1000, ..LoadOptions::default() };
    load_postgres_url(&a, &shop_plan(7, 20_000), &LoadOptions::default()).unwrap();
    load_postgres_url(&b, &shop_plan(7, 20_000), &LoadOptions::default()).unwrap();
    load_postgres_url(&c, &shop_plan(7, 20_000), &binary).unwrap();
    load_postgres_url(&d, &shop_plan(8, 20_000), &LoadOptions::default()).unwrap();
    for table in ["customers", "products", "orders"] {
        let da = digest(&pg, "a", table);
        assert_eq!(da, digest(&pg, "b", table), "{table}: two loads differ");
        assert_eq!(da, digest(&pg, "c", table), "{table}: binary differs from text");
        assert_ne!(da, digest(&pg, "d", table), "{table}: another seed gave the same data");
    }
}

#[test]
fn a_failing_copy_is_reported_and_rolled_back() {
    let pg = TempPg::start();
    let url = pg.create_db("shop");
    // `orders.status` exists with a type the generated text cannot be cast to.
    pg.client("shop").query("CREATE TABLE orders (id bigint, customer_id bigint, product_id bigint, quantity bigint, amount float8, status integer, placed_at timestamptz)").unwrap();
    let err = load_postgres_url(&url, &shop_plan(1, 1000), &LoadOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LoadError::Pg(_)), "{text}");
    assert!(text.contains("invalid input syntax for type integer"), "{text}");
    // Parents were loaded in the same transaction, so they are gone too.
    assert_eq!(
        pg.scalar("shop", "SELECT count(*) FROM pg_tables WHERE tablename = 'customers'"),
        "0"
    );
    assert_eq!(pg.scalar("shop", "SELECT count(*) FROM orders"), "0");
    // Binary refuses types it cannot encode for, before touching the server.
    let cfg: shadowgate_data::DataConfig = toml::from_str("[[tables]]\nname = \"t\"\nrows = 1\n[[tables.columns]]\nname = \"id\"\ngen = \"sequence\"\ntype = \"integer\"\n").unwrap();
    let plan = shadowgate_data::Plan::new(&cfg, 1, &Default::default()).unwrap();
    let err = load_postgres_url(
        &url,
        &plan,
        &LoadOptions { format: Format::Binary, ..LoadOptions::default() },
    )
    .unwrap_err();
    assert!(err.to_string().contains("`t.id` has type `integer`"), "{err}");
    // And the connection error names the target.
    let bad = format!("postgres://postgres@/shop?host={}&port=1", pg.socket_dir().display());
    let err = load_postgres_url(&bad, &plan, &LoadOptions::default()).unwrap_err();
    assert!(err.to_string().contains(".s.PGSQL.1"), "{err}");
}

#[test]
fn sqlite_gets_the_same_rows_as_postgres() {
    let pg = TempPg::start();
    let url = pg.create_db("shop");
    let plan = shop_plan(5, 5_000);
    load_postgres_url(&url, &plan, &LoadOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut db = rusqlite::Connection::open(dir.path().join("shop.db")).unwrap();
    let report =
        load_sqlite(&mut db, &plan, &LoadOptions { chunk_rows: 100, ..LoadOptions::default() })
            .unwrap();
    assert_eq!(report.rows, 27_000);
    let one = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(one("SELECT count(*) FROM orders"), 5000);
    assert_eq!(
        one(
            "SELECT count(*) FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL"
        ),
        0
    );
    assert_eq!(
        one("SELECT count(*) FROM customers WHERE score IS NULL"),
        pg.scalar("shop", "SELECT count(*) FROM customers WHERE score IS NULL")
            .parse::<i64>()
            .unwrap()
    );
    // Row by row, the same values (compared as text).
    let lite: Vec<String> = db
        .prepare("SELECT id, customer_id, product_id, quantity, status, placed_at FROM orders ORDER BY id").unwrap()
        .query_map([], |r| Ok(format!("{}|{}|{}|{}|{}|{}", r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get::<_, String>(4)?, r.get::<_, String>(5)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let pgrows = pg.client("shop").query("SELECT id || '|' || customer_id || '|' || product_id || '|' || quantity || '|' || status || '|' || to_char(placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM orders ORDER BY id").unwrap();
    let pgrows: Vec<String> = pgrows.into_iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(lite, pgrows);
}

#[test]
fn password_users_authenticate_with_scram_and_cleartext() {
    use shadowgate_data::pg::{Client, PgConfig, PgError};
    use std::time::{Duration, Instant};

    let pg = TempPg::start();
    let mut admin = pg.client("postgres");
    admin.query("CREATE ROLE app LOGIN PASSWORD 'pé ncil:@/'; CREATE ROLE plain LOGIN PASSWORD 'open sesame'").unwrap();
    admin.query("CREATE DATABASE shop OWNER app").unwrap();
    assert!(
        pg.scalar("postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'")
            .starts_with("SCRAM-SHA-256$")
    );
    let hba = pg.data_dir().join("pg_hba.conf");
    let rules = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(&hba, format!("local all app scram-sha-256\nlocal all plain password\n{rules}"))
        .unwrap();
    admin.query("SELECT pg_reload_conf()").unwrap();

    let url = |user: &str, password: Option<&str>| {
        let auth = match password {
            Some(p) => format!(
                "{user}:{}",
                p.replace('%', "%25")
                    .replace(':', "%3A")
                    .replace('@', "%40")
                    .replace('/', "%2F")
                    .replace(' ', "%20")
            ),
            None => user.to_string(),
        };
        format!("postgres://{auth}@/shop?host={}&port={}", pg.socket_dir().display(), pg.port)
    };
    let connect = |u: &str| Client::connect(&PgConfig::parse(u).unwrap(), Duration::from_secs(10));
    // The reload is asynchronous: wait until the server asks `app` for a password.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match connect(&url("app", None)) {
            Err(PgError::NoPassword) => break,
            _ if Instant::now() > deadline => panic!("pg_hba.conf was not reloaded"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let report = load_postgres_url(
        &url("app", Some("pé ncil:@/")),
        &shop_plan(2, 1000),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(report.rows, 23_000);
    assert_eq!(
        pg.scalar("shop", "SELECT tableowner FROM pg_tables WHERE tablename = 'orders'"),
        "app"
    );
    let err = connect(&url("app", Some("pencil"))).err().expect("a wrong password is refused");
    assert!(
        err.to_string().contains("28P01")
            && err.to_string().contains("password authentication failed"),
        "{err}"
    );
    let mut plain = connect(&url("plain", Some("open sesame"))).unwrap();
    assert_eq!(plain.query("SELECT current_user").unwrap(), vec![vec![Some("plain".to_string())]]);
}
