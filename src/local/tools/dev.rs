//! `txn-notify dev`: the embedded runtime as a long-running local service. The ingest API
//! (the same use case, routes, signatures and problem+json as the Lambda function) on a
//! loopback address, the pipeline running continuously behind it on the wall clock, and
//! the outbox served at `/outbox/`. template.yaml's Monday-morning schedules run on the wall
//! clock too: each hour from Sunday 16:00 to Monday 18:00 UTC the digest planner runs, and
//! the statements of the zones whose Monday 06:00 it is go out. Shutdown (Ctrl-C) stops taking requests, lets those
//! in flight finish, ends the pipeline's current tick and closes the store: the stream
//! position and the queues are on disk, and the next start goes on from there.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::routing::get;
use serde::Serialize;

use crate::clock::SystemClock;
use crate::local::embedded::outbox::OutboxError;
use crate::local::embedded::runtime::{Runtime, RuntimeError, RuntimeParts, Tally};
use crate::pipeline::ingest::problem::Problem;
use crate::pipeline::ingest::routes::problem_response;
use crate::ports::PortError;

pub struct DevOptions {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub signing_secret: Vec<u8>,
    /// How often the pipeline looks for work.
    pub tick: Duration,
}

/// What a dev session did, printed when it stops.
#[derive(Debug, Default, Clone, Serialize)]
pub struct DevSummary {
    pub requests: u64,
    pub processor_batches: u64,
    pub messages_delivered: u64,
    pub emails: u64,
    pub audit_items: u64,
    /// Stream records and queue messages left for the next start.
    pub left_for_next_start: u64,
}

struct Shared {
    runtime: Runtime<SystemClock>,
    requests: std::sync::atomic::AtomicU64,
}

type App = Arc<Shared>;

/// Why `dev` could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Server(std::io::Error),
}

impl From<PortError> for DevError {
    fn from(error: PortError) -> Self {
        DevError::Runtime(error.into())
    }
}

impl From<OutboxError> for DevError {
    fn from(error: OutboxError) -> Self {
        DevError::Runtime(error.into())
    }
}

/// Opens the store in `data_dir`, binds `listen`, calls `ready` with the bound address, and
/// serves until `shutdown` completes.
pub async fn serve(
    options: DevOptions,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<DevSummary, DevError> {
    std::fs::create_dir_all(&options.data_dir).map_err(|source| RuntimeError::CreateDir {
        dir: options.data_dir.clone(),
        source,
    })?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| DevError::Listen {
            address: options.listen,
            source,
        })?;
    let address = listener.local_addr().map_err(DevError::Server)?;
    let mut parts = RuntimeParts::local(SystemClock);
    parts.signing_secret = options.signing_secret.clone();
    // Statements' unsubscribe links point at this server.
    parts.public_api_url = format!("http://{address}");
    let runtime = Runtime::open(&options.data_dir, &parts)?;
    runtime.outbox.write_index()?;
    let app: App = Arc::new(Shared {
        runtime,
        requests: Default::default(),
    });
    ready(address);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let server = {
        let mut stop = stop_rx.clone();
        let router = router(Arc::clone(&app));
        async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                })
                .await
                .map_err(DevError::Server)
        }
    };
    let pipeline = run_pipeline(Arc::clone(&app), options.tick, stop_rx);
    let (served, tally) = tokio::join!(server, pipeline);
    served?;

    let runtime = &app.runtime;
    runtime.outbox.write_index()?;
    let backlog = runtime.backlog()?;
    Ok(DevSummary {
        requests: app.requests.load(std::sync::atomic::Ordering::SeqCst),
        processor_batches: tally.processor_batches,
        messages_delivered: tally.messages_delivered,
        emails: runtime.store.outbox_count()?,
        audit_items: runtime.store.audit_count()?,
        left_for_next_start: backlog.stream + backlog.queued,
    })
}

/// Ticks the runtime until told to stop; a tick that fails is logged and tried again on
/// the next one (its work stays in the stream or the queue).
async fn run_pipeline(app: App, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) -> Tally {
    let mut tally = Tally::default();
    let mut emails_indexed = None;
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => break,
            () = tokio::time::sleep(every) => {}
        }
        match app.runtime.run_schedules().await {
            Ok(runs) => {
                for run in runs {
                    tracing::info!(run = %run.at, attempts = run.attempts, failed = run.failed.is_some(), "digest planner run");
                }
            }
            Err(error) => tracing::error!(error = %error, "the schedules could not run; they run on the next tick"),
        }
        if let Err(error) = app.runtime.tick(false, &mut tally, None).await {
            tracing::error!(error = %error, "pipeline tick failed; it runs again on the next tick");
        }
        let emails = app.runtime.store.outbox_count().ok();
        if emails != emails_indexed {
            if let Err(error) = app.runtime.outbox.write_index() {
                tracing::warn!(error = %error, "the outbox index could not be written");
            }
            emails_indexed = emails;
        }
    }
    tally
}

fn router(app: App) -> Router {
    Router::new()
        .route("/outbox", get(|| async { redirect("/outbox/") }))
        .route("/outbox/", get(outbox_index))
        .route("/outbox/{file}", get(outbox_file))
        .route("/status", get(status))
        .route("/dashboard", get(dashboard))
        .fallback(ingest)
        .with_state(app)
}

fn redirect(to: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    response
}

fn with_type(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response<Body> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn not_found() -> Response<Body> {
    with_type(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "not found\n")
}

/// Every request that is not the outbox or the status goes to ingest, which answers
/// exactly as behind API Gateway (404 problem+json for unknown paths).
async fn ingest(State(app): State<App>, request: Request<Body>) -> Response<Body> {
    app.requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let (parts, body) = request.into_parts();
    // Read no more than ingest takes: a larger body gets ingest's own 413, whatever its size.
    let limit = app.runtime.ingest.config.max_body_bytes;
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes.to_vec(),
        Err(_) => return problem_response(&Problem::too_large(limit)).map(Body::from),
    };
    let response = app.runtime.ingest.handle(Request::from_parts(parts, body)).await;
    // What ingest answers as written must be on disk first, whatever group the pipeline
    // has open.
    if let Err(error) = app.runtime.store.commit_pending() {
        tracing::error!(error = %error.message, "the store could not commit a request's writes");
        return problem_response(&Problem::unavailable("the store could not commit; try again")).map(Body::from);
    }
    response.map(Body::from)
}

async fn outbox_index(State(app): State<App>) -> Response<Body> {
    match app
        .runtime
        .outbox
        .write_index()
        .map_err(|e| e.to_string())
        .and_then(|path| std::fs::read(&path).map_err(|e| e.to_string()))
    {
        Ok(html) => with_type(StatusCode::OK, "text/html; charset=utf-8", html),
        Err(error) => with_type(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            format!("the outbox index could not be written: {error}\n"),
        ),
    }
}

/// One email (`000123.eml`), or one mailbox file of the mailbox layout
/// (`000001-001000.mbox`), shown as text. Only emails and files the index holds are served.
async fn outbox_file(State(app): State<App>, UrlPath(file): UrlPath<String>) -> Response<Body> {
    let outbox = &app.runtime.outbox;
    if let Some(number) = crate::local::embedded::outbox::eml_number(&file) {
        return match outbox.read_email(number) {
            Ok(Some(text)) => with_type(StatusCode::OK, "text/plain; charset=utf-8", text),
            Ok(None) => not_found(),
            Err(error) => with_type(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                format!("the email could not be read: {error}\n"),
            ),
        };
    }
    let is_mailbox_name = file.len() == 18
        && file.ends_with(".mbox")
        && file.as_bytes()[6] == b'-'
        && file[..6].bytes().chain(file[7..13].bytes()).all(|b| b.is_ascii_digit());
    if !is_mailbox_name {
        return not_found();
    }
    match std::fs::read(outbox.folder().join(&file)) {
        Ok(bytes) => with_type(StatusCode::OK, "text/plain; charset=utf-8", bytes),
        Err(_) => not_found(),
    }
}

/// The dashboard, drawn from what this run has written to metrics.emf so far.
async fn dashboard(State(app): State<App>) -> Response<Body> {
    match crate::local::tools::dashboard::render_folder(&app.runtime.dir) {
        Ok(html) => with_type(StatusCode::OK, "text/html; charset=utf-8", html),
        Err(error) => with_type(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", format!("{error}\n")),
    }
}

#[derive(Serialize)]
struct Status {
    stream_records_waiting: u64,
    queue_messages_waiting: u64,
    emails: u64,
    audit_items: u64,
    dead_letters: u64,
}

/// What the pipeline holds right now, as JSON.
async fn status(State(app): State<App>) -> Response<Body> {
    let read = || -> Result<Status, crate::ports::PortError> {
        let store = &app.runtime.store;
        let backlog = app.runtime.backlog()?;
        let mut dead_letters = 0;
        for queue in app.runtime.routes.dead_letter_queues() {
            let depth = store.queue_depth(queue)?;
            dead_letters += depth.visible + depth.in_flight;
        }
        Ok(Status {
            stream_records_waiting: backlog.stream,
            queue_messages_waiting: backlog.queued,
            emails: store.outbox_count()?,
            audit_items: store.audit_count()?,
            dead_letters,
        })
    };
    match read() {
        Ok(status) => with_type(
            StatusCode::OK,
            "application/json",
            serde_json::to_vec(&status).expect("a status serializes"),
        ),
        Err(error) => with_type(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            format!("the store could not be read: {}\n", error.message),
        ),
    }
}
