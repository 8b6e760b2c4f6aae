//! Native `slapos.cookbook` recipes (spec §11.8–§11.13), version 1.0.499.
//!
//! Two registrations: [`register_local`] adds the recipes that only touch
//! the partition (wrapper, mkdirectory, generate.password, free_port,
//! promise.plugin, check_port_listening, check_url_available, cron.d,
//! symbolic.link, userinfo, switch-softwaretype); [`register`] adds those
//! and the recipes that talk to the master (slapconfiguration, request,
//! publish, publish-early and their variants) through the node's [`SlapConnection`].
//! Without a connection (the CLI) the master recipes are absent and a
//! profile using them fails as with any unknown recipe.
//!
//! Deliberately absent: the `_failsafe` publish variants,
//! `request.edge`, `slapconfiguration.jsonschema.localdb` and the other
//! database variants, `generate.mac`, `passwd-<scheme>` hashes of
//! generate.password (no passlib), and `cron` (dcron itself).

mod connection;
mod files;
mod free_port;
mod jsonschema;
mod password;
mod pformat;
mod promise;
mod publish;
mod publish_early;
mod request;
mod shell;
mod slapconfiguration;
mod switch_softwaretype;
mod sys;
mod values;
mod wrapper;

use std::sync::Arc;

pub use connection::{
    InstanceRequest, PartitionInformation, RequestedInstance, SlapConnection, SlapConnectionInfo, SlapError,
};

use super::{Recipe, Recipes};

/// The entry-point prefix of every recipe here.
const PACKAGE: &str = "slapos.cookbook";

/// Registers the cookbook recipes that need no master.
pub fn register_local(recipes: &mut Recipes) {
    let local: [(&str, Arc<dyn Recipe>); 11] = [
        ("wrapper", Arc::new(wrapper::Wrapper)),
        ("mkdirectory", Arc::new(files::MkDirectory)),
        ("symbolic.link", Arc::new(files::SymbolicLink)),
        ("cron.d", Arc::new(files::CronD)),
        ("userinfo", Arc::new(files::UserInfo)),
        ("generate.password", Arc::new(password::GeneratePassword)),
        ("free_port", Arc::new(free_port::FreePort)),
        ("promise.plugin", Arc::new(promise::PromisePlugin)),
        ("check_port_listening", Arc::new(promise::CheckPortListening)),
        ("check_url_available", Arc::new(promise::CheckUrlAvailable)),
        ("switch-softwaretype", Arc::new(switch_softwaretype::SwitchSoftwareType)),
    ];
    for (entry, recipe) in local {
        recipes.register(&format!("{PACKAGE}:{entry}"), recipe);
    }
}

/// Registers every cookbook recipe here, those talking to the master
/// through `connection` included.
pub fn register(recipes: &mut Recipes, connection: Arc<dyn SlapConnection>) {
    register_local(recipes);
    use slapconfiguration::{Flavour, SlapConfiguration};
    let master: [(&str, Arc<dyn Recipe>); 10] = [
        ("slapconfiguration", Arc::new(SlapConfiguration { connection: Arc::clone(&connection), flavour: Flavour::Plain })),
        ("slapconfiguration.serialised", Arc::new(SlapConfiguration { connection: Arc::clone(&connection), flavour: Flavour::Serialised })),
        ("slapconfiguration.jsonschema", Arc::new(SlapConfiguration { connection: Arc::clone(&connection), flavour: Flavour::JsonSchema })),
        ("request", Arc::new(request::Request { connection: Arc::clone(&connection), optional: false, serialised: false })),
        ("request.serialised", Arc::new(request::Request { connection: Arc::clone(&connection), optional: false, serialised: true })),
        ("requestoptional", Arc::new(request::Request { connection: Arc::clone(&connection), optional: true, serialised: false })),
        ("requestoptional.serialised", Arc::new(request::Request { connection: Arc::clone(&connection), optional: true, serialised: true })),
        ("publish", Arc::new(publish::Publish { connection: Arc::clone(&connection), serialised: false })),
        ("publish-early", Arc::new(publish_early::PublishEarly { connection: Arc::clone(&connection) })),
        ("publish.serialised", Arc::new(publish::Publish { connection, serialised: true })),
    ];
    for (entry, recipe) in master {
        recipes.register(&format!("{PACKAGE}:{entry}"), recipe);
    }
}
