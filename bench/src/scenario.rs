//! The scenarios, each run on a fresh server (new directory, new database)
//! so that no implementation inherits the other's or an earlier scenario's
//! data:
//!
//! * requests: format `partitions` slots, then new requests (a new title
//!   each, so each allocates a slot), then idempotent re-requests of the
//!   titles that were allocated, from `clients` concurrent clients; between
//!   the two, an untimed census of the allocated slots;
//! * computer: format and allocate `computer_partitions` slots, then time
//!   `getFullComputerInformation` from one client.
//!
//! Memory (`VmRSS`) is read once the fresh server has settled, sampled
//! during every measurement, and `VmHWM` read before the server is killed.

use std::time::Duration;

use anyhow::{bail, Context};

use crate::load::{Bounds, Call, Driver, Outcome, Workload};
use crate::server::{Launcher, Memory, Server, COMPUTER_ID};
use crate::slap::{self, InstanceOrder};

/// What the scenarios do, validated from the command line.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Concurrent clients of each request measurement.
    pub(crate) clients: Vec<usize>,
    /// Limits of each request measurement (new, then re-requests).
    pub(crate) request_bounds: Bounds,
    /// Slots formatted before the request measurements.
    pub(crate) partitions: usize,
    /// Slots formatted and allocated before the computer measurement.
    pub(crate) computer_partitions: usize,
    /// Clients allocating the computer measurement's slots.
    pub(crate) setup_clients: usize,
    /// Time allowed to allocate them.
    pub(crate) setup_duration_max: Duration,
    /// Limits of the `getFullComputerInformation` measurement.
    pub(crate) latency_bounds: Bounds,
    /// How long a fresh server idles before its memory is read.
    pub(crate) idle_settle: Duration,
    /// The load driver.
    pub(crate) driver: Driver,
}

/// The request measurements at one concurrency.
#[derive(Debug, Clone)]
pub(crate) struct RequestRun {
    /// Concurrent clients.
    pub(crate) clients: usize,
    /// Memory of the fresh server, idle.
    pub(crate) idle: Memory,
    /// The format of the slots (one request).
    pub(crate) format: Outcome,
    /// New titles: each allocates a slot.
    pub(crate) new: Outcome,
    /// Slots the computer document shows allocated after the new requests
    /// (equal to `new.ok()` unless two requests got one slot).
    pub(crate) allocated_after_new: usize,
    /// The same titles again.
    pub(crate) again: Outcome,
    /// Memory when the server was killed (`VmHWM` = its peak).
    pub(crate) end: Memory,
}

/// The `getFullComputerInformation` measurement.
#[derive(Debug, Clone)]
pub(crate) struct ComputerRun {
    /// Memory of the fresh server, idle.
    pub(crate) idle: Memory,
    /// Slots the computer document lists.
    pub(crate) partitions: usize,
    /// Of them, allocated.
    pub(crate) allocated: usize,
    /// Size of the computer document.
    pub(crate) document_bytes: usize,
    /// Allocating them.
    pub(crate) setup: Outcome,
    /// The timed polls.
    pub(crate) latency: Outcome,
    /// Memory when the server was killed.
    pub(crate) end: Memory,
}

/// Runs the request measurements at one concurrency on a fresh server.
///
/// # Errors
/// The server does not start or dies, or the format fails.
pub(crate) async fn requests(launcher: &Launcher, settings: &Settings, clients: usize) -> anyhow::Result<RequestRun> {
    let mut server = launcher.start().await?;
    let idle = settled_memory(&server, settings.idle_settle).await?;
    let format = format(&mut server, settings, settings.partitions).await?;
    let order = InstanceOrder::new();
    let title_prefix = format!("bench-{clients}-");
    let new_workload = {
        let (order, title_prefix) = (order.clone(), title_prefix.clone());
        Workload {
            call: Box::new(move |index| request_call(&order, &title_prefix, index)),
            accept: slap::is_instance_document,
        }
    };
    let new_bounds = Bounds {
        requests_max: settings.request_bounds.requests_max.min(settings.partitions),
        duration_max: settings.request_bounds.duration_max,
    };
    let new = settings.driver.run(&mut server, new_workload, clients, new_bounds).await?;
    let (_, allocated_after_new, _) = computer_census(&mut server, settings).await?;
    let allocated = new.ok_indexes.clone();
    if allocated.is_empty() {
        bail!("no new request succeeded at {clients} clients: {:?}", new.failures);
    }
    let again_workload = Workload {
        call: Box::new(move |index| request_call(&order, &title_prefix, allocated[index % allocated.len()])),
        accept: slap::is_instance_document,
    };
    let again = settings
        .driver
        .run(&mut server, again_workload, clients, settings.request_bounds)
        .await?;
    let end = server.memory()?;
    Ok(RequestRun {
        clients,
        idle,
        format,
        new,
        allocated_after_new,
        again,
        end,
    })
}

/// Runs the `getFullComputerInformation` measurement on a fresh server with
/// `computer_partitions` slots formatted and allocated.
///
/// # Errors
/// The server does not start or dies, the format fails, or its computer
/// document does not decode.
pub(crate) async fn computer(launcher: &Launcher, settings: &Settings) -> anyhow::Result<ComputerRun> {
    let mut server = launcher.start().await?;
    let idle = settled_memory(&server, settings.idle_settle).await?;
    let wanted = settings.computer_partitions;
    format(&mut server, settings, wanted).await?;
    let order = InstanceOrder::new();
    let setup_workload = Workload {
        call: Box::new(move |index| request_call(&order, "tree-", index)),
        accept: slap::is_instance_document,
    };
    let setup_bounds = Bounds {
        requests_max: wanted,
        duration_max: settings.setup_duration_max,
    };
    let setup = settings
        .driver
        .run(&mut server, setup_workload, settings.setup_clients, setup_bounds)
        .await?;
    let (partitions, allocated, document_bytes) = computer_census(&mut server, settings).await?;
    let poll_workload = Workload {
        call: Box::new(|_| Call::Get {
            path: "getFullComputerInformation",
            query: vec![("computer_id", COMPUTER_ID.to_owned())],
        }),
        accept: slap::is_computer_document,
    };
    let latency = settings.driver.run(&mut server, poll_workload, 1, settings.latency_bounds).await?;
    let end = server.memory()?;
    Ok(ComputerRun {
        idle,
        partitions,
        allocated,
        document_bytes,
        setup,
        latency,
        end,
    })
}

fn request_call(order: &InstanceOrder, title_prefix: &str, index: usize) -> Call {
    Call::Post {
        path: "requestComputerPartition",
        form: order.form(format!("{title_prefix}{index}")),
    }
}

/// Declares the default computer with `partitions` slots, as one timed
/// request.
async fn format(server: &mut Server, settings: &Settings, partitions: usize) -> anyhow::Result<Outcome> {
    let form = slap::format_form(partitions);
    let workload = Workload {
        call: Box::new(move |_| Call::Post {
            path: "loadComputerConfigurationFromXML",
            form: form.clone(),
        }),
        accept: |body| body == "done",
    };
    let bounds = Bounds {
        requests_max: 1,
        duration_max: Duration::from_secs(1),
    };
    let outcome = settings.driver.run(server, workload, 1, bounds).await?;
    if outcome.ok() != 1 {
        bail!("formatting {partitions} slots failed: {:?}", outcome.failures);
    }
    Ok(outcome)
}

/// Polls the computer document once, untimed, and counts its slots and the
/// allocated ones, and its size (also a warm-up of the timed polls).
async fn computer_census(server: &mut Server, settings: &Settings) -> anyhow::Result<(usize, usize, usize)> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(settings.driver.request_timeout)
        .build()
        .context("cannot build an HTTP client")?;
    let url = format!("{}getFullComputerInformation", server.base_url);
    let response = http
        .get(&url)
        .query(&[("computer_id", COMPUTER_ID)])
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body = response.text().await.with_context(|| format!("GET {url}: reading the body"))?;
    if status != reqwest::StatusCode::OK {
        bail!("GET {url}: HTTP {status}");
    }
    server.check_alive()?;
    let (partitions, allocated) = slap::count_partitions(&body)?;
    Ok((partitions, allocated, body.len()))
}

/// The server's memory after it has idled for `settle`.
async fn settled_memory(server: &Server, settle: Duration) -> anyhow::Result<Memory> {
    tokio::time::sleep(settle).await;
    server.memory()
}
