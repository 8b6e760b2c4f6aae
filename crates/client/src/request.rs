//! `requestComputerPartition` without the I/O: the form the Python client
//! posts (spec §3.2) and the answer decoded into what a caller needs.
//!
//! Form, as `OpenOrder.request` (a user) and `ComputerPartition.request` (an
//! instance, which also sends its ids and the `X-SlapPartition` header)
//! build it: `software_release`, `software_type` (`default` when not
//! given), `partition_reference` (the instance title),
//! `partition_parameter_xml` and `filter_xml` (marshalled dicts), `state`
//! (a marshalled string or `None`) and `shared_xml` (a marshalled bool).
//!
//! Answer: a marshalled `SoftwareInstance` (or `ComputerPartition` for fake
//! frontends and forwarded requests) whose attributes `slap_computer_id`
//! and `slap_computer_partition_id` are required, as the Python client
//! requires them to build its `ComputerPartition`.

use std::collections::BTreeMap;

use proto::auth::PartitionAuth;
use proto::documents::SoftwareInstanceDoc;
use proto::Value;

/// The software type sent when none is given (`DEFAULT_SOFTWARE_TYPE`).
pub const DEFAULT_SOFTWARE_TYPE: &str = "default";

/// One instance order.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    /// Software release URL.
    pub software_release: String,
    /// Software type; `None` sends `default`.
    pub software_type: Option<String>,
    /// The instance title (wire: `partition_reference`).
    pub title: String,
    /// Instance parameters: a marshalled dict.
    pub parameters: Value,
    /// SLA (wire: `filter_kw`): a dict, e.g. `computer_guid`.
    pub sla: Value,
    /// Ask for a shared instance (wire: slave).
    pub shared: bool,
    /// `started`, `stopped` or `destroyed`; `None` keeps the current one.
    pub state: Option<String>,
    /// Request as this partition (an instance requesting a child) instead of
    /// as a user.
    pub as_partition: Option<PartitionAuth>,
}

impl RequestSpec {
    /// A user's order of `title` from `software_release` with no
    /// parameters, no SLA, not shared, state unchanged.
    pub fn new(software_release: impl Into<String>, title: impl Into<String>) -> RequestSpec {
        RequestSpec {
            software_release: software_release.into(),
            software_type: None,
            title: title.into(),
            parameters: Value::Dict(Vec::new()),
            sla: Value::Dict(Vec::new()),
            shared: false,
            state: None,
            as_partition: None,
        }
    }

    /// The form fields, in the order the Python client builds them.
    pub fn form(&self) -> Vec<(&'static str, String)> {
        let mut form = Vec::with_capacity(9);
        if let Some(partition) = &self.as_partition {
            form.push(("computer_id", partition.computer_id.clone()));
            form.push(("computer_partition_id", partition.partition_id.clone()));
        }
        form.push(("software_release", self.software_release.clone()));
        form.push(("software_type", self.software_type.clone().unwrap_or_else(|| DEFAULT_SOFTWARE_TYPE.to_owned())));
        form.push(("partition_reference", self.title.clone()));
        form.push(("partition_parameter_xml", proto::marshal::encode(&self.parameters)));
        form.push(("filter_xml", proto::marshal::encode(&self.sla)));
        form.push(("state", proto::marshal::encode(&Value::from(self.state.clone()))));
        form.push(("shared_xml", proto::marshal::encode(&Value::Bool(self.shared))));
        form
    }
}

/// What `requestComputerPartition` answered.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestResult {
    /// The instance exists (allocated, or a shared instance with a host).
    Ready(Box<RequestedInstance>),
    /// 408: the master accepted the order and is still allocating it; ask
    /// again later (the Python CLI: "Master is provisioning it", exit 2).
    NotReady,
}

/// The answer to a successful request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestedInstance {
    /// `slap_computer_id`: the compute node (for a shared instance, the
    /// host's); empty for fake frontends.
    pub computer_id: String,
    /// `slap_computer_partition_id`: the partition (for a shared instance,
    /// the host partition).
    pub partition_id: String,
    /// `_instance_guid`; absent for shared instances.
    pub instance_guid: Option<String>,
    /// `_requested_state`; absent for shared instances (ask the host
    /// partition with `register_partition`).
    pub state: Option<String>,
    /// `slap_software_release_url`.
    pub software_release_url: Option<String>,
    /// `slap_software_type`.
    pub software_type: Option<String>,
    /// `_parameter_dict`: the stored parameters (strings) plus `timestamp`.
    pub parameters: BTreeMap<String, Value>,
    /// `_connection_dict` (or the legacy `connection_xml`): what the
    /// instance published, strings.
    pub connection_parameters: BTreeMap<String, Value>,
    /// The whole decoded answer, for anything else.
    pub document: SoftwareInstanceDoc,
}

/// Decodes a `requestComputerPartition` answer body.
///
/// # Errors
/// A reason when the body is not a marshalled `SoftwareInstance` (or
/// `ComputerPartition`) with string `slap_computer_id` and
/// `slap_computer_partition_id`.
pub(crate) fn decode_answer(body: &[u8]) -> Result<RequestedInstance, String> {
    let value = proto::marshal::decode(body).map_err(|error| format!("not a marshalled value: {error}"))?;
    let document = SoftwareInstanceDoc::from_value(&value).map_err(|error| error.to_string())?;
    let text = |key: &str| document.get(key).and_then(Value::as_str).map(str::to_owned);
    let required = |key: &str| text(key).ok_or_else(|| format!("the answer has no string {key:?}"));
    let connection_parameters = match document.connection_dict() {
        Some(dict @ Value::Dict(_)) => string_keyed(dict, "_connection_dict")?,
        _ => match document.get("connection_xml").and_then(Value::as_str) {
            Some(xml) => proto::instance_xml::decode(xml)
                .map_err(|error| format!("connection_xml: {error}"))?
                .into_iter()
                .map(|(key, value)| (key, Value::from(value)))
                .collect(),
            None => BTreeMap::new(),
        },
    };
    let parameters = match document.parameter_dict() {
        Some(dict @ Value::Dict(_)) => string_keyed(dict, "_parameter_dict")?,
        _ => BTreeMap::new(),
    };
    Ok(RequestedInstance {
        computer_id: required("slap_computer_id")?,
        partition_id: required("slap_computer_partition_id")?,
        instance_guid: text("_instance_guid"),
        state: text("_requested_state"),
        software_release_url: text("slap_software_release_url"),
        software_type: text("slap_software_type"),
        parameters,
        connection_parameters,
        document,
    })
}

/// A marshalled dict as a map; non-string keys are refused.
///
/// # Errors
/// A reason naming `what` and the offending key.
pub(crate) fn string_keyed(dict: &Value, what: &str) -> Result<BTreeMap<String, Value>, String> {
    let items = dict.as_dict().ok_or_else(|| format!("{what} is a {}, not a dict", dict.type_name()))?;
    let mut map = BTreeMap::new();
    for (key, value) in items {
        let key =
            key.as_str().ok_or_else(|| format!("{what} has a non-string key {}", proto::python_repr::repr_of(key)))?;
        map.insert(key.to_owned(), value.clone());
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_request_form_matches_open_order() {
        let mut spec = RequestSpec::new("http://sr/software.cfg", "my instance");
        spec.parameters = Value::dict_from([("a", Value::str("1"))]);
        let form = spec.form();
        let expected: Vec<(&str, &str)> = vec![
            ("software_release", "http://sr/software.cfg"),
            ("software_type", "default"),
            ("partition_reference", "my instance"),
            (
                "partition_parameter_xml",
                "<marshal><dictionary id=\"i2\"><string>a</string><string>1</string></dictionary></marshal>",
            ),
            ("filter_xml", "<marshal><dictionary id=\"i2\"/></marshal>"),
            ("state", "<marshal><none/></marshal>"),
            ("shared_xml", "<marshal><bool>0</bool></marshal>"),
        ];
        assert_eq!(form.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn partition_request_form_carries_the_requester_ids() {
        let mut spec = RequestSpec::new("u", "child");
        spec.as_partition = Some(PartitionAuth { computer_id: "COMP-1".into(), partition_id: "slappart3".into() });
        spec.state = Some("stopped".into());
        spec.shared = true;
        spec.software_type = Some("kvm".into());
        let form = spec.form();
        assert_eq!(form[0], ("computer_id", "COMP-1".to_owned()));
        assert_eq!(form[1], ("computer_partition_id", "slappart3".to_owned()));
        assert!(form.contains(&("software_type", "kvm".to_owned())));
        assert!(form.contains(&("state", "<marshal><string>stopped</string></marshal>".to_owned())));
        assert!(form.contains(&("shared_xml", "<marshal><bool>1</bool></marshal>".to_owned())));
        assert_eq!(
            spec.as_partition.as_ref().map(PartitionAuth::header_value).as_deref(),
            Some("X-SlapPartition computer_id=COMP-1, computer_partition_id=slappart3")
        );
    }

    #[test]
    fn answers_decode_and_missing_ids_are_refused() {
        let body = concat!(
            "<marshal><object id=\"i2\" module=\"slapos.slap.slap\" class=\"SoftwareInstance\"><tuple/>",
            "<dictionary id=\"i3\"><string>_connection_dict</string><dictionary id=\"i4\"><string>url</string><string>http://x</string></dictionary>",
            "<string>_instance_guid</string><string>computer-slappart0</string>",
            "<string>_parameter_dict</string><dictionary id=\"i5\"><string>a</string><string>1</string></dictionary>",
            "<string>_requested_state</string><string>started</string>",
            "<string>slap_computer_id</string><string>computer</string>",
            "<string>slap_computer_partition_id</string><string>slappart0</string>",
            "</dictionary></object></marshal>"
        );
        let answer = decode_answer(body.as_bytes()).expect("valid answer");
        assert_eq!(answer.computer_id, "computer");
        assert_eq!(answer.partition_id, "slappart0");
        assert_eq!(answer.instance_guid.as_deref(), Some("computer-slappart0"));
        assert_eq!(answer.state.as_deref(), Some("started"));
        assert_eq!(answer.parameters.get("a"), Some(&Value::str("1")));
        assert_eq!(answer.connection_parameters.get("url"), Some(&Value::str("http://x")));

        let legacy = concat!(
            "<marshal><object id=\"i2\" module=\"slapos.slap.slap\" class=\"SoftwareInstance\"><tuple/><dictionary id=\"i3\">",
            "<string>connection_xml</string><string>&amp;lt;instance&amp;gt;&amp;lt;parameter id=\"k\"&amp;gt;v&amp;lt;/parameter&amp;gt;&amp;lt;/instance&amp;gt;</string>",
            "<string>slap_computer_id</string><string>c</string><string>slap_computer_partition_id</string><string>p</string>",
            "</dictionary></object></marshal>"
        );
        let answer = decode_answer(legacy.as_bytes()).expect("legacy answer");
        assert_eq!(answer.connection_parameters.get("k"), Some(&Value::str("v")));

        let error = decode_answer(b"<marshal><string>done</string></marshal>").expect_err("not an object");
        assert_eq!(error, "expected a SoftwareInstance object, found str");
        let no_ids = "<marshal><object id=\"i2\" module=\"slapos.slap.slap\" class=\"SoftwareInstance\"><tuple/><dictionary id=\"i3\"/></object></marshal>";
        assert_eq!(
            decode_answer(no_ids.as_bytes()).expect_err("no ids"),
            "the answer has no string \"slap_computer_id\""
        );
    }
}
