//! The SLAP calls the benchmark makes, as the Python client makes them
//! (`shared/spec/slap-protocol.md` §3): the format of a computer
//! (`loadComputerConfigurationFromXML`), an instance request
//! (`requestComputerPartition`) and the node's poll
//! (`getFullComputerInformation`), with the checks that tell a real answer
//! from an error page.

use anyhow::{bail, Context};
use proto::Value;

use crate::server::COMPUTER_ID;

/// The software release every benchmark instance asks for.
pub(crate) const SOFTWARE_URL: &str = "http://bench.invalid/software.cfg";

/// One form: field names and values, sent url-encoded.
pub(crate) type Form = Vec<(&'static str, String)>;

/// The form of `loadComputerConfigurationFromXML` declaring the default
/// computer with `partitions` slots `slappart0…`, each with one IPv4 and one
/// IPv6 address, as `slapos node format` sends it.
pub(crate) fn format_form(partitions: usize) -> Form {
    let partition_list = (0..partitions)
        .map(|index| {
            Value::dict_from([
                ("reference", Value::String(format!("slappart{index}"))),
                ("tap", Value::dict_from([("name", Value::String(format!("slaptap{index}")))])),
                (
                    "address_list",
                    Value::List(vec![
                        Value::dict_from([
                            (
                                "addr",
                                Value::String(format!("10.{}.{}.{}", index / 65536 % 256, index / 256 % 256, index % 256)),
                            ),
                            ("netmask", Value::str("255.255.255.255")),
                        ]),
                        Value::dict_from([
                            ("addr", Value::String(format!("fd00::{:x}", index + 1))),
                            ("netmask", Value::str("ffff:ffff:ffff:ffff::")),
                        ]),
                    ]),
                ),
            ])
        })
        .collect();
    let computer = Value::dict_from([
        ("reference", Value::str(COMPUTER_ID)),
        ("address", Value::str("10.0.0.1")),
        ("netmask", Value::str("255.0.0.0")),
        ("partition_list", Value::List(partition_list)),
    ]);
    vec![("computer_id", COMPUTER_ID.to_owned()), ("xml", proto::marshal::encode(&computer))]
}

/// The marshalled constant fields of every instance request, encoded once.
#[derive(Debug, Clone)]
pub(crate) struct InstanceOrder {
    shared_xml: String,
    parameter_xml: String,
    filter_xml: String,
    state_xml: String,
}

impl InstanceOrder {
    /// A started, non-shared instance of [`SOFTWARE_URL`] with one
    /// parameter and no SLA.
    pub(crate) fn new() -> InstanceOrder {
        InstanceOrder {
            shared_xml: proto::marshal::encode(&Value::Bool(false)),
            parameter_xml: proto::marshal::encode(&Value::dict_from([("bench", Value::str("yes"))])),
            filter_xml: proto::marshal::encode(&Value::Dict(Vec::new())),
            state_xml: proto::marshal::encode(&Value::str("started")),
        }
    }

    /// The `requestComputerPartition` form for the instance titled `title`;
    /// the same title always gives the same form (an idempotent re-request).
    pub(crate) fn form(&self, title: String) -> Form {
        vec![
            ("software_release", SOFTWARE_URL.to_owned()),
            ("software_type", "default".to_owned()),
            ("partition_reference", title),
            ("shared_xml", self.shared_xml.clone()),
            ("partition_parameter_xml", self.parameter_xml.clone()),
            ("filter_xml", self.filter_xml.clone()),
            ("state", self.state_xml.clone()),
        ]
    }
}

/// Whether a 200 body of `requestComputerPartition` is a marshalled
/// `SoftwareInstance` (and not, say, an HTML error page).
pub(crate) fn is_instance_document(body: &str) -> bool {
    body.starts_with("<marshal>") && body.contains("class=\"SoftwareInstance\"")
}

/// Whether a 200 body of `getFullComputerInformation` is a marshalled
/// `Computer`.
pub(crate) fn is_computer_document(body: &str) -> bool {
    body.starts_with("<marshal>") && body.contains("class=\"Computer\"")
}

/// How many slots a `getFullComputerInformation` answer lists, and how many
/// of them are allocated (carry a software release document).
///
/// # Errors
/// The body is not a marshalled `Computer`.
pub(crate) fn count_partitions(body: &str) -> anyhow::Result<(usize, usize)> {
    let document = proto::marshal::decode(body.as_bytes()).context("the computer document does not decode")?;
    let Some(computer) = document.as_object() else {
        bail!("the computer document is a {}, not an object", document.type_name());
    };
    let partitions = computer
        .attribute("_computer_partition_list")
        .and_then(Value::as_seq)
        .context("the computer document has no _computer_partition_list")?;
    let allocated = partitions
        .iter()
        .filter(|partition| {
            partition
                .as_object()
                .and_then(|object| object.attribute("_software_release_document"))
                .is_some_and(|document| !document.is_none())
        })
        .count();
    Ok((partitions.len(), allocated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_form_declares_every_slot() {
        let form = format_form(3);
        let xml = &form.iter().find(|(name, _)| *name == "xml").expect("xml field").1;
        let decoded = proto::marshal::decode(xml.as_bytes()).expect("marshalled");
        let partitions = decoded.dict_get("partition_list").and_then(Value::as_seq).expect("list");
        assert_eq!(partitions.len(), 3);
        assert_eq!(partitions[2].dict_get("reference").and_then(Value::as_str), Some("slappart2"));
    }

    #[test]
    fn same_title_gives_the_same_form() {
        let order = InstanceOrder::new();
        assert_eq!(order.form("a".to_owned()), order.form("a".to_owned()));
        assert_ne!(order.form("a".to_owned()), order.form("b".to_owned()));
    }
}
