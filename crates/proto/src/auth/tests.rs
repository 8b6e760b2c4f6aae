//! Unit tests of the `X-SlapPartition` header parser.

use super::{parse_authorization, AuthError, PartitionAuth};

fn auth(computer_id: &str, partition_id: &str) -> Option<PartitionAuth> {
    Some(PartitionAuth {
        computer_id: computer_id.to_owned(),
        partition_id: partition_id.to_owned(),
    })
}

#[test]
fn parses_what_the_clients_send() {
    assert_eq!(
        parse_authorization("X-SlapPartition computer_id=C, computer_partition_id=P"),
        Ok(auth("C", "P"))
    );
    assert_eq!(
        parse_authorization("X-SlapPartition computer_id=C,computer_partition_id=P"),
        Ok(auth("C", "P"))
    );
    assert_eq!(
        parse_authorization("x-slappartition   computer_partition_id = P ,computer_id= C,"),
        Ok(auth("C", "P"))
    );
    assert_eq!(
        parse_authorization("X-SLAPPARTITION computer_id=C, computer_partition_id=P, other=1"),
        Ok(auth("C", "P"))
    );
    assert_eq!(
        parse_authorization(
            "X-SlapPartition computer_id=A, computer_id=C, computer_partition_id=P"
        ),
        Ok(auth("C", "P"))
    );
}

#[test]
fn other_schemes_are_not_ours() {
    assert_eq!(parse_authorization("Basic dXNlcjpwYXNz"), Ok(None));
    assert_eq!(parse_authorization("Bearer x-slappartition"), Ok(None));
    assert_eq!(parse_authorization(""), Ok(None));
}

#[test]
fn malformed_values_are_errors() {
    assert_eq!(
        parse_authorization("X-SlapPartition"),
        Err(AuthError::NoParameters)
    );
    assert_eq!(
        parse_authorization("X-SlapPartition   "),
        Err(AuthError::NoParameters)
    );
    assert_eq!(
        parse_authorization("X-SlapPartition computer_id=C, slappart0"),
        Err(AuthError::NotKeyValue {
            item: "slappart0".to_owned()
        })
    );
    assert_eq!(
        parse_authorization("X-SlapPartition computer_id=C"),
        Err(AuthError::Missing {
            key: "computer_partition_id"
        })
    );
    assert_eq!(
        parse_authorization("X-SlapPartition computer_id=, computer_partition_id=P")
            .map_err(|error| error.to_string()),
        Err("x-slappartition authorization lacks a non-empty computer_id".to_owned())
    );
}

#[test]
fn header_value_is_what_the_client_writes() {
    let value = auth("COMP-1", "slappart0").map(|auth| auth.header_value());
    assert_eq!(
        value.as_deref(),
        Some("X-SlapPartition computer_id=COMP-1, computer_partition_id=slappart0")
    );
    assert_eq!(
        parse_authorization(value.as_deref().unwrap_or_default()),
        Ok(auth("COMP-1", "slappart0"))
    );
}
