//! [`SlapClient`]: the HTTP side of the SLAP client, the one module of the
//! crate that touches sockets. It speaks as the Python `ConnectionHelper`
//! does (spec §1): GETs with query strings, form POSTs where `None` is sent
//! as the string `None`, `Accept: */*`, redirects followed, the status
//! mapped by [`ClientError::from_status`], bodies read as UTF-8. POSTs made
//! on behalf of a partition carry `Authorization: X-SlapPartition …`; GETs
//! never do (as in Python).

use std::sync::Mutex;
use std::time::Duration;

use proto::auth::PartitionAuth;
use proto::documents::{ComputerDoc, ComputerPartitionDoc};
use proto::Value;
use reqwest::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, USER_AGENT};
use reqwest::Url;

use crate::error::ClientError;
use crate::hateoas::{self, ComputerInfo, ComputerSummary, HateoasLinks, ServiceInfo, ServiceSummary};
use crate::request::{self, RequestResult, RequestSpec};
use crate::url::{absolute_http_url, MasterUrl};

/// A node's report on a software release, see
/// [`SlapClient::software_release_report`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoftwareReport<'a> {
    /// The build started.
    Building,
    /// The build succeeded.
    Available,
    /// The build failed; the log (the whole buildout output).
    Error(&'a str),
    /// The release was removed from the node.
    Destroyed,
}

/// A node's report on a partition, see [`SlapClient::partition_report`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionReport<'a> {
    /// Deployed and its services started.
    Started,
    /// Its services stopped.
    Stopped,
    /// Processing failed: the message, and the shared instance it
    /// concerns when it is one the partition hosts.
    Error {
        /// What went wrong.
        message: &'a str,
        /// The shared instance (`slave_reference`), if any.
        shared_reference: Option<&'a str>,
    },
}

/// The Python client's default timeout for every call.
pub const TIMEOUT_DEFAULT: Duration = Duration::from_secs(60);

/// How to reach a master.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The classic API base (`[slapos] master_url`).
    pub master_url: MasterUrl,
    /// The HATEOAS root (`[slapos] master_rest_url`); when `None` it is
    /// asked from the master with `getHateoasUrl` on first use.
    pub rest_url: Option<String>,
    /// Per-call timeout (connect to last byte).
    pub timeout: Duration,
}

impl ClientConfig {
    /// A configuration for `master_url` with the default timeout and no
    /// REST URL.
    pub fn new(master_url: MasterUrl) -> ClientConfig {
        ClientConfig { master_url, rest_url: None, timeout: TIMEOUT_DEFAULT }
    }
}

/// Whether a software release should be installed on or removed from a
/// compute node (`supplySupply` `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupplyState {
    /// Install it (`available`).
    Available,
    /// Remove it (`destroyed`).
    Destroyed,
}

impl SupplyState {
    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            SupplyState::Available => "available",
            SupplyState::Destroyed => "destroyed",
        }
    }
}

/// A connection to one SlapOS master.
#[derive(Debug)]
pub struct SlapClient {
    http: reqwest::Client,
    config: ClientConfig,
    /// The HATEOAS root's templates, fetched once (the Python navigator
    /// caches its root document too).
    links: Mutex<Option<HateoasLinks>>,
}

/// One form field; `None` goes on the wire as the string `None`.
type Field<'a> = (&'a str, Option<String>);

/// The form fields naming the partition a call concerns.
fn partition_fields(partition: &PartitionAuth) -> Vec<Field<'static>> {
    vec![
        ("computer_id", Some(partition.computer_id.clone())),
        ("computer_partition_id", Some(partition.partition_id.clone())),
    ]
}

impl SlapClient {
    /// A client for the master described by `config`.
    ///
    /// # Errors
    /// [`ClientError::Setup`] if the HTTP client cannot be built.
    pub fn new(config: ClientConfig) -> Result<SlapClient, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .no_proxy()
            .build()
            .map_err(|source| ClientError::Setup { master_url: config.master_url.to_string(), source })?;
        Ok(SlapClient { http, config, links: Mutex::new(None) })
    }

    /// The master's base URL.
    pub fn master_url(&self) -> &MasterUrl {
        &self.config.master_url
    }

    /// `POST requestComputerPartition`: orders (or re-orders) an instance.
    /// A 408 is [`RequestResult::NotReady`], not an error.
    ///
    /// # Errors
    /// Transport and status errors ([`ClientError::NotFound`] when no free
    /// partition or no host for a shared instance exists), or an answer that
    /// is not a `SoftwareInstance`.
    pub async fn request(&self, spec: &RequestSpec) -> Result<RequestResult, ClientError> {
        let form: Vec<Field<'_>> = spec.form().into_iter().map(|(key, value)| (key, Some(value))).collect();
        let url = self.config.master_url.endpoint("requestComputerPartition")?;
        let body = match self.post_to(url.clone(), &form, spec.as_partition.as_ref()).await {
            Ok(body) => body,
            Err(ClientError::ResourceNotReady { .. }) => return Ok(RequestResult::NotReady),
            Err(error) => return Err(error),
        };
        request::decode_answer(&body)
            .map(|instance| RequestResult::Ready(Box::new(instance)))
            .map_err(|reason| ClientError::InvalidResponse { url: url.to_string(), reason })
    }

    /// `POST supplySupply`: asks `computer_id` to install or remove the
    /// software release `url`. Returns the master's acknowledgement text.
    ///
    /// # Errors
    /// Transport and status errors (404: unknown compute node).
    pub async fn supply(&self, url: &str, computer_id: &str, state: SupplyState) -> Result<String, ClientError> {
        let form = [
            ("url", Some(url.to_owned())),
            ("computer_id", Some(computer_id.to_owned())),
            ("state", Some(state.as_str().to_owned())),
        ];
        self.post_text("supplySupply", &form, None).await
    }

    /// `GET registerComputerPartition`: one partition as its node sees it.
    ///
    /// # Errors
    /// Transport and status errors, or an answer that is not a
    /// `ComputerPartition`.
    pub async fn register_partition(&self, partition: &PartitionAuth) -> Result<ComputerPartitionDoc, ClientError> {
        let query = [
            ("computer_reference", partition.computer_id.as_str()),
            ("computer_partition_reference", partition.partition_id.as_str()),
        ];
        let url = self.config.master_url.endpoint("registerComputerPartition")?;
        let value = self.get_marshalled(url.clone(), &query).await?;
        ComputerPartitionDoc::from_value(&value)
            .map_err(|error| ClientError::InvalidResponse { url: url.to_string(), reason: error.to_string() })
    }

    /// `GET getFullComputerInformation` (falling back to the legacy
    /// `getComputerInformation` on 404, as Python does): the compute node,
    /// its supplied software releases and its partitions.
    ///
    /// # Errors
    /// Transport and status errors: [`ClientError::NotFound`] for an
    /// unknown compute node on our master (the Python proxy answers 500),
    /// or for an empty `computer_id` without any call.
    pub async fn full_computer_information(&self, computer_id: &str) -> Result<ComputerDoc, ClientError> {
        let full = self.config.master_url.endpoint("getFullComputerInformation")?;
        if computer_id.is_empty() {
            return Err(ClientError::NotFound { url: full.to_string(), body: "empty computer_id".to_owned() });
        }
        let query = [("computer_id", computer_id)];
        let (url, value) = match self.get_marshalled(full.clone(), &query).await {
            Ok(value) => (full, value),
            Err(ClientError::NotFound { .. }) => {
                let legacy = self.config.master_url.endpoint("getComputerInformation")?;
                (legacy.clone(), self.get_marshalled(legacy, &query).await?)
            }
            Err(error) => return Err(error),
        };
        ComputerDoc::from_value(&value)
            .map_err(|error| ClientError::InvalidResponse { url: url.to_string(), reason: error.to_string() })
    }

    /// `POST loadComputerConfigurationFromXML`: formats a compute node from
    /// `description` (a dict with `reference`, `address`, `netmask`,
    /// `partition_list`, spec §3.3). Slots missing from the list are dropped
    /// by the master.
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn load_computer_configuration(&self, description: &Value) -> Result<String, ClientError> {
        let form = [("xml", Some(proto::marshal::encode(description)))];
        self.post_text("loadComputerConfigurationFromXML", &form, None).await
    }

    /// `POST setComputerPartitionConnectionXml` as `partition`: publishes
    /// its connection parameters (a dict), or those of the shared instance
    /// `shared_reference` it hosts.
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn set_connection_parameters(
        &self,
        partition: &PartitionAuth,
        parameters: &Value,
        shared_reference: Option<&str>,
    ) -> Result<String, ClientError> {
        let mut form = partition_fields(partition);
        form.extend([
            ("connection_xml", Some(proto::marshal::encode(parameters))),
            ("slave_reference", shared_reference.map(str::to_owned)),
        ]);
        self.post_text("setComputerPartitionConnectionXml", &form, Some(partition)).await
    }

    /// `POST destroyedComputerPartition` as `partition`: the node wiped it.
    /// The answer text says whether the master freed it (`OK`) or not yet.
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn destroyed_partition(&self, partition: &PartitionAuth) -> Result<String, ClientError> {
        let form = partition_fields(partition);
        self.post_text("destroyedComputerPartition", &form, Some(partition)).await
    }

    /// What a node tells the master about a software release it supplies
    /// (`buildingSoftwareRelease`, `availableSoftwareRelease`,
    /// `softwareReleaseError` with the build log, `destroyedSoftwareRelease`).
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn software_release_report(
        &self,
        url: &str,
        computer_id: &str,
        report: SoftwareReport<'_>,
    ) -> Result<String, ClientError> {
        let (endpoint, error_log) = match report {
            SoftwareReport::Building => ("buildingSoftwareRelease", None),
            SoftwareReport::Available => ("availableSoftwareRelease", None),
            SoftwareReport::Error(log) => ("softwareReleaseError", Some(log)),
            SoftwareReport::Destroyed => ("destroyedSoftwareRelease", None),
        };
        let mut form = vec![("url", Some(url.to_owned())), ("computer_id", Some(computer_id.to_owned()))];
        if let Some(log) = error_log {
            form.push(("error_log", Some(log.to_owned())));
        }
        self.post_text(endpoint, &form, None).await
    }

    /// What a node tells the master about a partition it processed
    /// (`startedComputerPartition`, `stoppedComputerPartition`,
    /// `softwareInstanceError` with the message).
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn partition_report(&self, partition: &PartitionAuth, report: PartitionReport<'_>) -> Result<String, ClientError> {
        let mut form = partition_fields(partition);
        let endpoint = match report {
            PartitionReport::Started => "startedComputerPartition",
            PartitionReport::Stopped => "stoppedComputerPartition",
            PartitionReport::Error { message, shared_reference } => {
                form.push(("error_log", Some(message.to_owned())));
                if let Some(reference) = shared_reference {
                    form.push(("slave_reference", Some(reference.to_owned())));
                }
                "softwareInstanceError"
            }
        };
        self.post_text(endpoint, &form, None).await
    }

    /// `POST softwareInstanceBang` as `partition`: something went wrong in
    /// it (a watched process died); the master asks its whole instance tree
    /// to be processed again.
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn bang(&self, partition: &PartitionAuth, message: &str) -> Result<String, ClientError> {
        let mut form = partition_fields(partition);
        form.extend([
            ("message", Some(message.to_owned())),
        ]);
        self.post_text("softwareInstanceBang", &form, Some(partition)).await
    }

    /// `POST computerBang`: something happened to the whole compute node
    /// (`slapos node bang`, `slapos node boot`'s `Reboot`).
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn computer_bang(&self, computer_id: &str, message: &str) -> Result<String, ClientError> {
        let form = [("computer_id", Some(computer_id.to_owned())), ("message", Some(message.to_owned()))];
        self.post_text("computerBang", &form, None).await
    }

    /// `POST updateComputerPartitionRelatedInstanceList` as `partition`:
    /// the titles of the instances it requested in its last run, so that
    /// the master can drop the ones it no longer requests (the Python
    /// proxy and ours answer 404, which callers only log).
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn related_instances(&self, partition: &PartitionAuth, titles: &[String]) -> Result<String, ClientError> {
        let list = Value::List(titles.iter().map(Value::str).collect());
        let mut form = partition_fields(partition);
        form.extend([
            ("instance_reference_xml", Some(proto::marshal::encode(&list))),
        ]);
        self.post_text("updateComputerPartitionRelatedInstanceList", &form, Some(partition)).await
    }

    /// `POST useComputer`: the usage journal of the node's report loop.
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn use_computer(&self, computer_id: &str, use_string: &str) -> Result<String, ClientError> {
        let form = [("computer_id", Some(computer_id.to_owned())), ("use_string", Some(use_string.to_owned()))];
        self.post_text("useComputer", &form, None).await
    }

    /// `GET getRunId`: the random id of the master process answering, by
    /// which a master recognises itself behind any of its URLs.
    ///
    /// # Errors
    /// Transport and status errors (the real ERP5 master has no run id).
    pub async fn run_id(&self) -> Result<String, ClientError> {
        let url = self.config.master_url.endpoint("getRunId")?;
        let body = self.send(self.http.get(url.clone()), &url).await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// `GET getSoftwareReleaseListFromSoftwareProduct`: the release URLs of
    /// software product `product` (for `product.NAME` URLs), best first.
    ///
    /// # Errors
    /// Transport and status errors, or an answer that is not a list of
    /// strings.
    pub async fn software_release_list_from_product(&self, product: &str) -> Result<Vec<String>, ClientError> {
        let url = self.config.master_url.endpoint("getSoftwareReleaseListFromSoftwareProduct")?;
        let value = self.get_marshalled(url.clone(), &[("software_product_reference", product)]).await?;
        let invalid = |reason: String| ClientError::InvalidResponse { url: url.to_string(), reason };
        let items = match &value {
            Value::List(items) => items,
            other => return Err(invalid(format!("expected a list, got a {}", other.type_name()))),
        };
        items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_owned).ok_or_else(|| invalid(format!("list item is a {}", item.type_name())))
            })
            .collect()
    }

    /// The HATEOAS root URL: the configured one, else what `getHateoasUrl`
    /// answers.
    ///
    /// # Errors
    /// [`ClientError::NoHateoas`] when none is configured and the master
    /// does not answer `getHateoasUrl` (the Python proxy does not).
    pub async fn hateoas_url(&self) -> Result<String, ClientError> {
        if let Some(rest_url) = &self.config.rest_url {
            return Ok(rest_url.clone());
        }
        let no_hateoas = || ClientError::NoHateoas { master_url: self.config.master_url.to_string() };
        let url = self.config.master_url.endpoint("getHateoasUrl")?;
        match self.send(self.http.get(url.clone()), &url).await {
            Ok(body) => {
                let text = String::from_utf8_lossy(&body).trim().to_owned();
                if text.is_empty() {
                    Err(no_hateoas())
                } else {
                    Ok(text)
                }
            }
            Err(error) => {
                tracing::debug!(%error, "getHateoasUrl failed, no HATEOAS API");
                Err(no_hateoas())
            }
        }
    }

    /// `slapos service list`: every instance tree, title and release URL.
    ///
    /// # Errors
    /// No HATEOAS API, transport and status errors, malformed documents.
    pub async fn service_list(&self) -> Result<Vec<ServiceSummary>, ClientError> {
        let (url, rows) = self.search(&hateoas::service_query(None), &["title", "url_string"]).await?;
        hateoas::service_summaries(&rows).map_err(|reason| ClientError::InvalidResponse { url, reason })
    }

    /// `slapos service info TITLE`: the root instance of the instance tree
    /// `title`; `None` if there is none.
    ///
    /// # Errors
    /// No HATEOAS API, transport and status errors (an unusable title is a
    /// 400 from the proxy), malformed documents.
    pub async fn service_info(&self, title: &str) -> Result<Option<ServiceInfo>, ClientError> {
        let (url, rows) = self.search(&hateoas::service_query(Some(title)), &["title", "relative_url"]).await?;
        let relative_url = hateoas::pick_relative_url(&rows, "title", title)
            .map_err(|reason| ClientError::InvalidResponse { url: url.clone(), reason })?;
        let Some(relative_url) = relative_url else {
            return Ok(None);
        };
        let (url, properties) = self.traverse(&relative_url).await?;
        hateoas::service_info(properties).map(Some).map_err(|reason| ClientError::InvalidResponse { url, reason })
    }

    /// `slapos computer list`: every compute node, reference and title.
    ///
    /// # Errors
    /// No HATEOAS API, transport and status errors, malformed documents.
    pub async fn computer_list(&self) -> Result<Vec<ComputerSummary>, ClientError> {
        let (url, rows) = self.search(&hateoas::computer_query(None), &["title", "reference"]).await?;
        hateoas::computer_summaries(&rows).map_err(|reason| ClientError::InvalidResponse { url, reason })
    }

    /// `slapos computer info REFERENCE`; `None` if there is no such compute
    /// node.
    ///
    /// # Errors
    /// No HATEOAS API, transport and status errors, malformed documents.
    pub async fn computer_info(&self, reference: &str) -> Result<Option<ComputerInfo>, ClientError> {
        let (url, rows) =
            self.search(&hateoas::computer_query(Some(reference)), &["reference", "relative_url"]).await?;
        let relative_url = hateoas::pick_relative_url(&rows, "reference", reference)
            .map_err(|reason| ClientError::InvalidResponse { url: url.clone(), reason })?;
        let Some(relative_url) = relative_url else {
            return Ok(None);
        };
        let (url, properties) = self.traverse(&relative_url).await?;
        hateoas::computer_info(properties).map(Some).map_err(|reason| ClientError::InvalidResponse { url, reason })
    }

    async fn links(&self) -> Result<HateoasLinks, ClientError> {
        if let Some(links) = self.links.lock().ok().and_then(|cached| cached.clone()) {
            return Ok(links);
        }
        let root = self.hateoas_url().await?;
        let url = absolute_http_url(&root)?;
        let body = self.send(self.http.get(url.clone()).header(CACHE_CONTROL, "no-cache"), &url).await?;
        let links = hateoas::parse_root(&body)
            .map_err(|reason| ClientError::InvalidResponse { url: url.to_string(), reason })?;
        if let Ok(mut cached) = self.links.lock() {
            *cached = Some(links.clone());
        }
        Ok(links)
    }

    async fn search(
        &self,
        query: &str,
        select_list: &[&str],
    ) -> Result<(String, Vec<serde_json::Map<String, serde_json::Value>>), ClientError> {
        let links = self.links().await?;
        let url = absolute_http_url(&hateoas::search_url(&links, query, select_list))?;
        let body = self.send(self.http.get(url.clone()), &url).await?;
        let rows = hateoas::search_rows(&body)
            .map_err(|reason| ClientError::InvalidResponse { url: url.to_string(), reason })?;
        Ok((url.to_string(), rows))
    }

    async fn traverse(
        &self,
        relative_url: &str,
    ) -> Result<(String, serde_json::Map<String, serde_json::Value>), ClientError> {
        let links = self.links().await?;
        let url = absolute_http_url(&hateoas::traverse_url(&links, relative_url))?;
        let body = self.send(self.http.get(url.clone()), &url).await?;
        let properties = hateoas::extract_properties(&body)
            .map_err(|reason| ClientError::InvalidResponse { url: url.to_string(), reason })?;
        Ok((url.to_string(), properties))
    }

    async fn get_marshalled(&self, url: Url, query: &[(&str, &str)]) -> Result<Value, ClientError> {
        let body = self.send(self.http.get(url.clone()).query(query), &url).await?;
        proto::marshal::decode(&body).map_err(|error| ClientError::InvalidResponse {
            url: url.to_string(),
            reason: format!("not a marshalled value: {error}"),
        })
    }

    async fn post_text(
        &self,
        endpoint: &str,
        form: &[Field<'_>],
        auth: Option<&PartitionAuth>,
    ) -> Result<String, ClientError> {
        let url = self.config.master_url.endpoint(endpoint)?;
        let body = self.post_to(url, form, auth).await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    async fn post_to(
        &self,
        url: Url,
        form: &[Field<'_>],
        auth: Option<&PartitionAuth>,
    ) -> Result<Vec<u8>, ClientError> {
        let form: Vec<(&str, String)> =
            form.iter().map(|(key, value)| (*key, value.clone().unwrap_or_else(|| "None".to_owned()))).collect();
        let mut builder = self.http.post(url.clone()).form(&form);
        if let Some(partition) = auth {
            builder = builder.header(AUTHORIZATION, partition.header_value());
        }
        self.send(builder, &url).await
    }

    /// Sends one request with the common headers and maps the answer.
    async fn send(&self, builder: reqwest::RequestBuilder, url: &Url) -> Result<Vec<u8>, ClientError> {
        let builder =
            builder.header(ACCEPT, "*/*").header(USER_AGENT, concat!("slapos-rs/", env!("CARGO_PKG_VERSION")));
        let connection = |source| ClientError::Connection { url: url.to_string(), source };
        let response = builder.send().await.map_err(connection)?;
        let status = response.status().as_u16();
        let final_url = response.url().to_string();
        let body = response.bytes().await.map_err(connection)?.to_vec();
        tracing::debug!(url = %final_url, status, "master answered");
        match ClientError::from_status(&final_url, status, &String::from_utf8_lossy(&body)) {
            Some(error) => Err(error),
            None => Ok(body),
        }
    }
}
