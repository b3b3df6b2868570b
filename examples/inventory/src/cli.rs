//! The command line both binaries share: `serve`, `migrate` and `pricing-stub`.
//!
//! The interface is stable because shadowgate's manifest for this example calls it:
//! `inventory migrate --data DIR [--seed-...]` as an install step and
//! `inventory serve --listen ADDR --data DIR` as the run command (the PostgreSQL manifest adds
//! `--views` and `--events`, its Redis and NATS dependencies). `serve` migrates and seeds
//! too (both are no-ops when already done), so the service also runs on its own.
//! Progress goes to standard output, one line per step, ending with
//! `listening on http://ADDR` once the port accepts connections.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use shadowgate_data::pg::{PgConfig, PgError};
use tokio::signal::unix::{SignalKind, signal};

use crate::{
    database::{self, Database, DatabaseError},
    events,
    outbox::DepUrlError,
    postgres,
    pricing::{PricingClient, PricingUrl, PricingUrlError},
    pricing_stub,
    release::Release,
    schema::{self, MigrateError},
    seed::{SeedPlan, SeedPlanError},
    seeding::{self, SeedError, SeedOutcome},
    server::{self, AppState, BindError},
    views,
};

/// How long the runtime waits for database work still running at exit.
const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// The most threads the runtime starts for blocking work (database queries, name lookups of
/// the pricing host). Sandboxes limit the number of processes and threads, and a stalled
/// dependency must not turn into hundreds of threads waiting on it.
const MAX_BLOCKING_THREADS: usize = 32;

#[derive(Debug, Parser)]
#[command(about = "An inventory and orders HTTP JSON service (shadowgate's example application).")]
struct Cli {
    #[command(subcommand)]
    command: CommandKind,
}

#[derive(Debug, Subcommand)]
enum CommandKind {
    /// Migrate and seed the database like `migrate`, then serve the HTTP API until SIGTERM.
    Serve(ServeArgs),
    /// Create or migrate the schema and seed the data set, then exit (an install step).
    Migrate(DataArgs),
    /// Serve a stand-in for the pricing dependency: `GET /prices/{id}`.
    PricingStub(PricingStubArgs),
}

#[derive(Debug, Args)]
struct DataArgs {
    /// The data directory, created if missing; the database is `inventory.sqlite3` in it. Or a
    /// PostgreSQL database: postgres://USER[:PASSWORD]@HOST:PORT/DB.
    #[arg(long, value_name = "DIR|URL")]
    data: PathBuf,
    /// Seed this many catalog items into an empty database.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed_items: u32,
    /// Seed this many customers into an empty database.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed_customers: u32,
    /// Seed this many historical orders (about 2.5 lines each) into an empty database.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed_orders: u32,
    /// The random seed of the generated data: the same seed and counts give the same rows.
    #[arg(long, value_name = "SEED", default_value_t = 1)]
    data_seed: u64,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    #[command(flatten)]
    data: DataArgs,
    /// The pricing dependency `GET /items/{id}` asks for current prices, e.g.
    /// http://127.0.0.1:9000. Without it, list prices are used.
    #[arg(long, value_name = "URL")]
    pricing_url: Option<String>,
    /// Publish each new order's JSON on the NATS subject `inventory.orders.created`, e.g.
    /// nats://127.0.0.1:4222. Best effort: requests never wait for NATS, and an unreachable
    /// server only costs the messages (counted in inventory_events_total).
    #[arg(long, value_name = "URL")]
    events: Option<String>,
    /// Count each `GET /items/{id}` in Redis (`INCR inventory:views:{id}`), e.g.
    /// redis://127.0.0.1:6379/0. Best effort like --events (inventory_views_total).
    #[arg(long, value_name = "URL")]
    views: Option<String>,
    /// How many database connections serve requests at once.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    db_connections: u16,
}

#[derive(Debug, Args)]
struct PricingStubArgs {
    /// The address to listen on, e.g. 127.0.0.1:9000 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
}

impl DataArgs {
    /// The PostgreSQL URL `--data` gives, if it is one.
    fn postgres_url(&self) -> Option<&str> {
        self.data.to_str().filter(|d| postgres::is_postgres_url(d))
    }

    fn plan(&self) -> SeedPlan {
        SeedPlan {
            data_seed: self.data_seed,
            items: self.seed_items,
            customers: self.seed_customers,
            orders: self.seed_orders,
        }
    }
}

/// Why a command failed. Each message names the flag or file to look at.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    #[error("could not create the data directory {path} (--data)")]
    DataDirectory {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not open the database {path} (--data)")]
    OpenDatabase {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("could not connect to PostgreSQL (--data)")]
    ConnectPostgres(#[source] PgError),
    #[error(
        "--seed-items, --seed-customers and --seed-orders seed SQLite only; on PostgreSQL the \
         schema comes from `migrate` and the rows from shadowgate's [data] (COPY): drop the \
         --seed-* flags"
    )]
    SeedPostgres,
    #[error("could not migrate the database")]
    Migrate(#[from] MigrateError),
    #[error("invalid seed flags: {0}")]
    SeedPlan(#[from] SeedPlanError),
    #[error("could not seed the database")]
    Seed(#[from] SeedError),
    #[error(transparent)]
    PricingUrl(#[from] PricingUrlError),
    #[error(transparent)]
    DependencyUrl(#[from] DepUrlError),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("could not open the database pool")]
    Database(#[from] DatabaseError),
    #[error("could not start the async runtime")]
    Runtime(#[source] io::Error),
    #[error("could not install the SIGTERM/SIGINT handler")]
    Signal(#[source] io::Error),
}

/// Parses the process's arguments and runs the command with `release`'s code paths.
pub fn main<R: Release>(release: R) -> ExitCode {
    let name = release.name();
    let matches = Cli::command().name("inventory").version(name).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    match run(release, cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut message = format!("inventory {name}: error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                message.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn run<R: Release>(release: R, cli: Cli) -> Result<(), CliError> {
    match cli.command {
        CommandKind::Migrate(args) => prepare_data(&release, &args).map(|_| ()),
        CommandKind::Serve(args) => serve(release, args),
        CommandKind::PricingStub(args) => {
            let say = |message: &str| say(release.name(), message);
            block_on(async {
                let listener = server::bind(args.listen).await?;
                let shutdown = shutdown_signal()?;
                announce_listening(&listener, &say);
                pricing_stub::serve(listener, shutdown).await;
                say("stopped");
                Ok(())
            })
        }
    }
}

fn say(release: &str, message: &str) {
    println!("inventory {release}: {message}");
}

fn announce_listening(listener: &tokio::net::TcpListener, say: &impl Fn(&str)) {
    match listener.local_addr() {
        Ok(address) => say(&format!("listening on http://{address}")),
        Err(err) => say(&format!("listening (address unknown: {err})")),
    }
}

/// Migrates the schema and seeds the data set; returns the schema version.
fn prepare_data<R: Release>(release: &R, args: &DataArgs) -> Result<u32, CliError> {
    let say = |message: &str| say(release.name(), message);
    let plan = args.plan();
    if let Some(url) = args.postgres_url() {
        if !plan.is_empty() {
            return Err(CliError::SeedPostgres);
        }
        let config = PgConfig::parse(url).map_err(CliError::ConnectPostgres)?;
        let mut client = postgres::connect(&config).map_err(CliError::ConnectPostgres)?;
        let report = postgres::migrate(&mut client, release.migrations())?;
        for name in &report.applied {
            say(&format!("applied migration: {name}"));
        }
        say(&format!("schema at version {} (PostgreSQL)", report.to_version));
        return Ok(report.to_version);
    }
    plan.validate()?;
    std::fs::create_dir_all(&args.data)
        .map_err(|source| CliError::DataDirectory { path: args.data.clone(), source })?;
    let path = database::database_path(&args.data);
    let mut connection = database::open_connection(&path)
        .map_err(|source| CliError::OpenDatabase { path: path.clone(), source })?;
    let report = schema::migrate(&mut connection, release.migrations())?;
    for name in &report.applied {
        say(&format!("applied migration: {name}"));
    }
    say(&format!("schema at version {}", report.to_version));
    if !plan.is_empty() {
        let started = Instant::now();
        match seeding::seed(&mut connection, &plan)? {
            SeedOutcome::Seeded(counts) => {
                let seconds = started.elapsed().as_secs_f64();
                say(&format!(
                    "seeded {} items, {} customers, {} orders and {} order lines in {seconds:.2} s \
                     ({:.0} rows/s)",
                    counts.items,
                    counts.customers,
                    counts.orders,
                    counts.order_lines,
                    counts.total() as f64 / seconds.max(1e-9)
                ));
            }
            SeedOutcome::AlreadySeeded => say("already seeded with these flags"),
        }
    }
    Ok(report.to_version)
}

fn serve<R: Release>(release: R, args: ServeArgs) -> Result<(), CliError> {
    let events_url = args.events.as_deref().map(events::parse_url).transpose()?;
    let views_url = args.views.as_deref().map(views::parse_url).transpose()?;
    let schema_version = prepare_data(&release, &args.data)?;
    let pricing = args.pricing_url.as_deref().map(PricingUrl::parse).transpose()?;
    let name = release.name();
    let say = |message: &str| say(name, message);
    block_on(async {
        let size = usize::from(args.db_connections);
        let database = match args.data.postgres_url() {
            Some(url) => Database::open_postgres(url, size)?,
            None => Database::open(&args.data.data, size)?,
        };
        let listener = server::bind(args.listen).await?;
        let shutdown = shutdown_signal()?;
        let mut state =
            AppState::new(release, database, pricing.map(PricingClient::new), schema_version);
        // The writers connect in the background: the service serves whether or not NATS and
        // Redis are up yet.
        state.events = events_url.map(|url| events::start(url, Arc::clone(&state.metrics.events)));
        state.views = views_url.map(|url| views::start(url, Arc::clone(&state.metrics.views)));
        let state = Arc::new(state);
        announce_listening(&listener, &say);
        server::serve(state, listener, shutdown).await;
        say("stopped");
        Ok(())
    })
}

fn block_on<T>(work: impl Future<Output = Result<T, CliError>>) -> Result<T, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
        .map_err(CliError::Runtime)?;
    let outcome = runtime.block_on(work);
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
    outcome
}

/// Completes on SIGTERM (how shadowgate stops a release) or SIGINT (Ctrl-C).
fn shutdown_signal() -> Result<impl Future<Output = ()>, CliError> {
    let mut terminate = signal(SignalKind::terminate()).map_err(CliError::Signal)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(CliError::Signal)?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}
