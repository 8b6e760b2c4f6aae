//! The `Authorization: X-SlapPartition computer_id=C, computer_partition_id=P`
//! header slapos.core 1.26 sends on the POSTs a partition makes (spec §7.1):
//! it names the requesting slot. Parsed by hand, as the proxy does, because
//! HTTP libraries only know the standard schemes.
//!
//! The scheme is case-insensitive; parameters are comma-separated `k=v` with
//! optional spaces; unknown keys are ignored and a repeated key keeps the
//! last value. Stricter than the proxy (which silently ignores such
//! headers): an `X-SlapPartition` header without parameters, with an item
//! that is not `k=v`, or without a non-empty `computer_id` and
//! `computer_partition_id` is an error, so the master answers 400.

#[cfg(test)]
mod tests;

/// The scheme name, as the client writes it.
pub const SCHEME: &str = "X-SlapPartition";

/// The slot a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionAuth {
    /// `computer_id`: the compute node.
    pub computer_id: String,
    /// `computer_partition_id`: the slot.
    pub partition_id: String,
}

impl PartitionAuth {
    /// The header value the Python client sends for this slot.
    pub fn header_value(&self) -> String {
        format!(
            "{SCHEME} computer_id={}, computer_partition_id={}",
            self.computer_id, self.partition_id
        )
    }
}

/// Why an `X-SlapPartition` header is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The scheme is not followed by parameters.
    #[error("x-slappartition authorization has no parameters")]
    NoParameters,
    /// An item is not `key=value`.
    #[error("x-slappartition parameter {item:?} is not key=value")]
    NotKeyValue {
        /// The item, trimmed.
        item: String,
    },
    /// A required key is absent or empty.
    #[error("x-slappartition authorization lacks a non-empty {key}")]
    Missing {
        /// `computer_id` or `computer_partition_id`.
        key: &'static str,
    },
}

/// Parses an `Authorization` header value: `Ok(None)` for another scheme
/// (or an empty header).
///
/// # Errors
///
/// [`AuthError`] for a malformed `X-SlapPartition` value.
pub fn parse_authorization(header: &str) -> Result<Option<PartitionAuth>, AuthError> {
    let header = header.trim();
    let (scheme, parameters) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return Ok(None);
    }
    if parameters.trim().is_empty() {
        return Err(AuthError::NoParameters);
    }
    let mut computer_id = None;
    let mut partition_id = None;
    for item in parameters
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let Some((key, value)) = item.split_once('=') else {
            return Err(AuthError::NotKeyValue {
                item: item.to_owned(),
            });
        };
        match key.trim() {
            "computer_id" => computer_id = Some(value.trim()),
            "computer_partition_id" => partition_id = Some(value.trim()),
            _ => {}
        }
    }
    let computer_id = computer_id
        .filter(|id| !id.is_empty())
        .ok_or(AuthError::Missing { key: "computer_id" })?;
    let partition_id = partition_id
        .filter(|id| !id.is_empty())
        .ok_or(AuthError::Missing {
            key: "computer_partition_id",
        })?;
    Ok(Some(PartitionAuth {
        computer_id: computer_id.to_owned(),
        partition_id: partition_id.to_owned(),
    }))
}
