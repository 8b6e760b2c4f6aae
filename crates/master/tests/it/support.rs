//! The fixture: a master with a fresh store (SQLite in a temp dir, or a
//! fresh PostgreSQL database when `SLAPOS_TEST_POSTGRES_URI` names a server),
//! driven in-process through its router.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use master::{AppState, MasterConfig, Store};
use proto::Value;
use tower::ServiceExt;

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A master with an empty store whose default computer is `computer`.
pub struct Master {
    pub app: Router,
    pub store: Store,
    _dir: tempfile::TempDir,
    database: Option<(String, String)>,
}

/// The admin URI of the test PostgreSQL server, or `None` with the reason
/// printed (tests/run.sh always sets it, so CI never skips).
pub fn postgres_admin_uri() -> Option<String> {
    match std::env::var("SLAPOS_TEST_POSTGRES_URI") {
        Ok(uri) if !uri.is_empty() => Some(uri),
        _ => {
            // CI always runs through tests/run.sh, which starts PostgreSQL:
            // there, a missing server is a failure, not a skip.
            assert!(std::env::var_os("CI").is_none(), "SLAPOS_TEST_POSTGRES_URI is not set under CI: run tests/run.sh");
            eprintln!("skipping the PostgreSQL half: SLAPOS_TEST_POSTGRES_URI is not set (tests/run.sh sets it)");
            None
        }
    }
}

/// A fresh database on the test server: `(admin uri, database uri, name)`.
pub async fn fresh_postgres_database(admin: &str) -> (String, String) {
    use sqlx::Connection;
    let name = format!("slapos_test_{}_{}", std::process::id(), rand_suffix());
    let mut conn = sqlx::PgConnection::connect(admin).await.expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
    let (base, _) = admin.rsplit_once('/').expect("admin uri has a database path");
    (format!("{base}/{name}"), name)
}

/// Drops a database made by [`fresh_postgres_database`] (best effort).
pub async fn drop_postgres_database(admin: &str, name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await;
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    u64::from(nanos) * 1000 + COUNTER.fetch_add(1, Ordering::Relaxed)
}

impl Master {
    /// A master on SQLite, or on PostgreSQL (`None` if no server is configured).
    pub async fn on(engine: Engine) -> Option<Master> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (uri, database) = match engine {
            Engine::Sqlite => (dir.path().join("master.db").display().to_string(), None),
            Engine::Postgres => {
                let admin = postgres_admin_uri()?;
                let (uri, name) = fresh_postgres_database(&admin).await;
                (uri, Some((admin, name)))
            }
        };
        let store = Store::open(&uri).await.expect("open store");
        let app = master::app(AppState::new(store.clone(), MasterConfig::new("computer")));
        Some(Master { app, store, _dir: dir, database })
    }

    /// A master on SQLite.
    pub async fn sqlite() -> Master {
        Master::on(Engine::Sqlite).await.expect("sqlite is always available")
    }

    /// The fixture's private temporary directory.
    pub fn store_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Sends one request through the router.
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = self.app.clone().oneshot(request).await.expect("router is infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// POSTs a form.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        self.post_with(path, fields, None).await
    }

    /// POSTs a form with an optional `Authorization` header.
    pub async fn post_with(&self, path: &str, fields: &[(&str, &str)], authorization: Option<&str>) -> (StatusCode, String) {
        let mut request = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "localhost");
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        self.send(request.body(Body::from(encode_form(fields))).expect("request")).await
    }

    /// GETs a path with query fields.
    pub async fn get(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let uri = format!("{path}?{}", encode_form(fields));
        self.send(Request::get(uri).header("host", "localhost").body(Body::empty()).expect("request")).await
    }

    /// Formats `computer` with `count` slots `slappart0…`, two addresses each.
    pub async fn format(&self, computer: &str, count: usize) {
        self.format_in(computer, count, None).await;
    }

    /// Formats `computer` as [`Master::format`] does, in `network` if given.
    pub async fn format_in(&self, computer: &str, count: usize, network: Option<&str>) {
        let partitions: Vec<Value> = (0..count)
            .map(|i| {
                Value::dict_from([
                    ("reference", Value::String(format!("slappart{i}"))),
                    ("tap", Value::dict_from([("name", Value::str("tap0"))])),
                    (
                        "address_list",
                        Value::List(vec![
                            Value::dict_from([
                                ("addr", Value::String(format!("127.0.0.{}", i + 1))),
                                ("netmask", Value::str("255.255.255.255")),
                            ]),
                            Value::dict_from([
                                ("addr", Value::String(format!("fc00::{}", i + 1))),
                                ("netmask", Value::str("ffff:ffff:ffff:ffff::")),
                            ]),
                        ]),
                    ),
                ])
            })
            .collect();
        let mut description = vec![
            ("reference", Value::str(computer)),
            ("address", Value::str("127.0.0.1")),
            ("netmask", Value::str("255.255.255.0")),
            ("partition_list", Value::List(partitions)),
        ];
        if let Some(network) = network {
            description.push(("network", Value::str(network)));
        }
        let description = Value::dict_from(description);
        let xml = proto::marshal::encode(&description);
        let (status, body) = self.post("/loadComputerConfigurationFromXML", &[("xml", &xml), ("computer_id", computer)]).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "done"));
    }

    /// Decodes the full computer document.
    pub async fn computer(&self, computer: &str) -> Value {
        let (status, body) = self.get("/getFullComputerInformation", &[("computer_id", computer)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        proto::marshal::decode(body.as_bytes()).expect("marshalled computer")
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.database.take() {
            // Best effort from a destructor: a leftover database is harmless
            // (its name is unique) but tidy.
            let store = self.store.clone();
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async {
                        store.close().await;
                        drop_postgres_database(&admin, &name).await;
                    });
                }
            })
            .join();
        }
    }
}

/// `application/x-www-form-urlencoded` encoding.
pub fn encode_form(fields: &[(&str, &str)]) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", utf8_percent_encode(k, NON_ALPHANUMERIC), utf8_percent_encode(v, NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A request for an instance, as the Python client sends it.
#[derive(Clone)]
pub struct Order {
    pub title: String,
    pub software_release: String,
    pub software_type: String,
    pub state: Value,
    pub parameters: Value,
    pub sla: Value,
    pub shared: bool,
    pub as_partition: Option<(String, String)>,
}

impl Order {
    pub fn new(title: &str) -> Order {
        Order {
            title: title.into(),
            software_release: "http://sr//".into(),
            software_type: "default".into(),
            state: Value::None,
            parameters: Value::Dict(Vec::new()),
            sla: Value::Dict(Vec::new()),
            shared: false,
            as_partition: None,
        }
    }
    pub fn software(mut self, url: &str) -> Order {
        self.software_release = url.into();
        self
    }
    pub fn software_type(mut self, software_type: &str) -> Order {
        self.software_type = software_type.into();
        self
    }
    pub fn state(mut self, state: &str) -> Order {
        self.state = Value::str(state);
        self
    }
    pub fn parameters(mut self, parameters: Value) -> Order {
        self.parameters = parameters;
        self
    }
    pub fn sla(mut self, sla: Value) -> Order {
        self.sla = sla;
        self
    }
    pub fn shared(mut self) -> Order {
        self.shared = true;
        self
    }
    pub fn by(mut self, computer: &str, partition: &str) -> Order {
        self.as_partition = Some((computer.into(), partition.into()));
        self
    }

    /// Sends it; returns the status and the decoded answer (`None` on error).
    pub async fn send(&self, master: &Master) -> (StatusCode, Option<Value>, String) {
        let state = proto::marshal::encode(&self.state);
        let parameters = proto::marshal::encode(&self.parameters);
        let sla = proto::marshal::encode(&self.sla);
        let shared = proto::marshal::encode(&Value::Bool(self.shared));
        let mut fields = vec![
            ("software_release", self.software_release.as_str()),
            ("software_type", self.software_type.as_str()),
            ("partition_reference", self.title.as_str()),
            ("shared_xml", shared.as_str()),
            ("partition_parameter_xml", parameters.as_str()),
            ("filter_xml", sla.as_str()),
            ("state", state.as_str()),
        ];
        let authorization = self
            .as_partition
            .as_ref()
            .map(|(c, p)| format!("X-SlapPartition computer_id={c}, computer_partition_id={p}"));
        if let Some((c, p)) = &self.as_partition {
            fields.push(("computer_id", c));
            fields.push(("computer_partition_id", p));
        }
        let (status, body) = master.post_with("/requestComputerPartition", &fields, authorization.as_deref()).await;
        let value = (status == StatusCode::OK).then(|| proto::marshal::decode(body.as_bytes()).expect("marshalled answer"));
        (status, value, body)
    }

    /// Sends it and expects success.
    pub async fn ok(&self, master: &Master) -> Value {
        let (status, value, body) = self.send(master).await;
        assert_eq!(status, StatusCode::OK, "request {:?} failed: {body}", self.title);
        value.expect("decoded")
    }
}

/// An attribute of a marshalled object (its state dictionary).
pub fn attr<'a>(object: &'a Value, key: &str) -> &'a Value {
    match object {
        Value::Object(object) => object
            .state
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("object has no attribute {key}: {object:?}")),
        other => panic!("not an object: {other:?}"),
    }
}

/// An attribute as a string.
pub fn attr_str<'a>(object: &'a Value, key: &str) -> &'a str {
    attr(object, key).as_str().unwrap_or_else(|| panic!("{key} is not a string"))
}

/// The `_computer_partition_list` of a computer document.
pub fn partitions(computer: &Value) -> Vec<Value> {
    attr(computer, "_computer_partition_list").as_seq().expect("list").to_vec()
}

/// The partition document of one slot.
pub fn partition(computer: &Value, slot: &str) -> Value {
    partitions(computer)
        .into_iter()
        .find(|p| attr_str(p, "_partition_id") == slot)
        .unwrap_or_else(|| panic!("no slot {slot}"))
}

/// A string key of a marshalled dict.
pub fn key<'a>(dict: &'a Value, key: &str) -> Option<&'a str> {
    dict.dict_get(key).and_then(Value::as_str)
}
