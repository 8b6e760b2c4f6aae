//! Integration tests of the profile engine: one binary, one module per
//! concern.
#![allow(unreachable_pub)]

mod build_fixture;
mod cases;
mod lifecycle;
mod lifecycle_record;
mod differential;
mod never_panics;
mod python_golden;
mod recipe_cookbook;
mod recipe_switch;
mod recipe_template;
mod recipe_build;
mod recipe_cmmi;
mod recipe_download;
mod recipe_egg;
mod recipe_gitclone;
mod venv;
