//! The whole-computer reads (`computer::slots`, `computer::addresses_by_slot`)
//! read back exactly what the per-slot reads give, whatever the texts hold
//! (separator-like `|` and `;`, NULLs, NULs, non-ASCII), on both engines.

use master::store::computer::{self, FormattedComputer, FormattedSlot};
use master::store::{sql, AddressRow, Backend};

use crate::on_both_engines;
use crate::support::Master;

/// Texts that look like separators, escapes and NULL markers.
const AWKWARD: [&str; 9] = ["|", "||", "|;", "|N", "N", ";", "a|;|N||b", "é|\u{1F600};", ""];

fn address(interface: &str, address: &str, netmask: &str) -> AddressRow {
    AddressRow { interface: interface.to_owned(), address: address.to_owned(), netmask: netmask.to_owned() }
}

async fn whole_computer_reads(master: Master) {
    let reference = "comp|;N";
    // SQLite text may hold a NUL (PostgreSQL refuses it), where SQLite's
    // string functions such as LIKE stop.
    let nul = "\0|;|N\0||";
    let awkward: Vec<&str> = match master.store.backend() {
        Backend::Sqlite => AWKWARD.iter().copied().chain([nul]).collect(),
        Backend::Postgres => AWKWARD.to_vec(),
    };
    let slots = awkward
        .iter()
        .enumerate()
        .map(|(index, text)| FormattedSlot {
            reference: format!("slot{index}{text}"),
            addresses: if index % 3 == 2 {
                Vec::new()
            } else {
                vec![address(text, &format!("10.0.0.{index}"), "|N"), address("tap", text, text)]
            },
        })
        .collect();
    let formatted = FormattedComputer { reference: reference.to_owned(), address: None, netmask: None, network: None, slots };
    let mut tx = master.store.begin_write().await.expect("begin");
    computer::format(&mut tx, &formatted).await.expect("format");
    for (index, text) in awkward.iter().enumerate().filter(|(index, text)| index % 2 == 0 || text.contains('\0')) {
        let null = |field: usize| matches!((index + field) % 3, 1 | 2).then(|| format!("{text}{field}"));
        let (release, software_type, title) = (null(1), null(2), null(3));
        let (parameters, connection, shared) = (null(4), null(5), null(6));
        let (requester, state, slot) = (format!("{text}|"), format!("|{text}"), format!("slot{index}{text}"));
        sql::query(
            "UPDATE partition_slot SET busy = 1, software_release = $1, software_type = $2, title = $3, \
             requested_by = $4, requester_id = $5, requested_state = $6, parameter_xml = $7, connection_xml = $8, \
             shared_instance_list = $9 WHERE computer_reference = $10 AND reference = $11",
        )
        .bind(&release)
        .bind(&software_type)
        .bind(&title)
        .bind(*text)
        .bind(&requester)
        .bind(&state)
        .bind(&parameters)
        .bind(&connection)
        .bind(&shared)
        .bind(reference)
        .bind(&slot)
        .execute(&mut tx)
        .await
        .expect("allocate");
        if index % 4 != 0 {
            sql::query("UPDATE partition_slot SET timestamp_s = $1 WHERE computer_reference = $2 AND reference = $3")
                .bind(1_764_085_000.123_456_7 + index as f64)
                .bind(reference)
                .bind(&slot)
                .execute(&mut tx)
                .await
                .expect("timestamp");
        }
    }
    let read = computer::slots(&mut tx, reference).await.expect("slots");
    assert_eq!(read.len(), awkward.len());
    let addresses = computer::addresses_by_slot(&mut tx, reference).await.expect("addresses");
    for (index, slot) in read.iter().enumerate() {
        assert_eq!(slot.reference, format!("slot{index}{}", awkward[index]), "format order");
        let alone = computer::slot(&mut tx, reference, &slot.reference).await.expect("slot").expect("exists");
        assert_eq!(slot, &alone);
        let slot_addresses = computer::addresses(&mut tx, reference, &slot.reference).await.expect("addresses");
        assert_eq!(addresses.get(&slot.reference).cloned().unwrap_or_default(), slot_addresses, "{}", slot.reference);
        assert_eq!(slot_addresses.is_empty(), index % 3 == 2);
    }
    assert!(computer::slots(&mut tx, "nope").await.expect("slots").is_empty());
    assert!(computer::addresses_by_slot(&mut tx, "nope").await.expect("addresses").is_empty());
}
on_both_engines!(whole_computer_reads_match_per_slot_reads, whole_computer_reads);
