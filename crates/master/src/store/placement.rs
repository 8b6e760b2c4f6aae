//! Where a new instance goes: the first free slot, in format order, of the
//! compute nodes its SLA allows. `computer_guid` names one node;
//! `network_guid` allows every node of that network; `mode =
//! unique_by_network` excludes the networks already holding an instance of
//! the same tree, so that replicas land on separate networks, on any node.
//! Without any of them, the default compute node is used, as the proxy does.

use super::rows::{self, SlotRow, SLOT_COLUMNS};
use super::{StoreError, WriteTx};
use super::sql::query;

/// The SLA constraints on a new instance's slot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Placement {
    /// Only this compute node (SLA `computer_guid`, or the default one when
    /// the SLA names neither a node, a network nor a mode).
    pub computer: Option<String>,
    /// Only nodes of this network (SLA `network_guid`).
    pub network: Option<String>,
    /// Only nodes whose network holds no instance of the same tree yet
    /// (SLA `mode = unique_by_network`); nodes in no network never qualify.
    pub unique_by_network: bool,
}

impl Placement {
    /// The placement an SLA asks for, `default_computer` filling in when it
    /// names neither a node, a network nor a mode (then any node may do).
    pub fn from_sla(sla: &proto::sla::Sla, default_computer: &str) -> Placement {
        let network = sla.network_guid.clone().filter(|n| !n.is_empty());
        let unique_by_network = sla.mode.as_deref() == Some("unique_by_network");
        let computer = sla
            .computer_guid
            .clone()
            .filter(|c| !c.is_empty())
            .or_else(|| (network.is_none() && !unique_by_network).then(|| default_computer.to_owned()));
        Placement { computer, network, unique_by_network }
    }
}

/// The first free slot allowed by `placement` for an instance of the tree
/// rooted at `tree_root`: nodes in format order, then slots in format order.
///
/// # Errors
/// SQL errors.
pub(super) async fn first_free_slot(
    tx: &mut WriteTx,
    placement: &Placement,
    tree_root: &str,
) -> Result<Option<SlotRow>, StoreError> {
    if let (Some(computer), None, false) = (&placement.computer, &placement.network, placement.unique_by_network) {
        // The common case, one node: served by the (computer, busy, position) index.
        let sql = format!(
            "SELECT {SLOT_COLUMNS} FROM partition_slot WHERE computer_reference = $1 AND busy = 0 \
             ORDER BY position LIMIT 1"
        );
        let found = query(&sql).bind(computer).fetch_optional(&mut **tx).await?;
        return found.map(rows::slot).transpose();
    }
    let sql = format!(
        "SELECT {SLOT_COLUMNS} FROM partition_slot WHERE busy = 0 AND computer_reference IN ( \
            SELECT reference FROM computer WHERE ($1 = '' OR reference = $1) AND ($2 = '' OR network = $2) \
            AND ($3 = 0 OR (network IS NOT NULL AND network NOT IN ( \
                SELECT used.network FROM computer used JOIN partition_slot taken \
                ON taken.computer_reference = used.reference \
                WHERE taken.busy = 1 AND used.network IS NOT NULL \
                AND ((taken.title = $4 AND taken.requested_by = '') OR taken.requested_by = $4))))) \
         ORDER BY (SELECT position FROM computer WHERE computer.reference = partition_slot.computer_reference), position \
         LIMIT 1"
    );
    let found = query(&sql)
        .bind(placement.computer.as_deref().unwrap_or(""))
        .bind(placement.network.as_deref().unwrap_or(""))
        .bind(i64::from(placement.unique_by_network))
        .bind(tree_root)
        .fetch_optional(&mut **tx)
        .await?;
    found.map(rows::slot).transpose()
}
