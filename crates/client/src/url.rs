//! The master's base URL and how endpoint names are joined to it, as the
//! Python `ConnectionHelper` does: a bare IPv6 host gets brackets, a `/` is
//! appended when missing, then the endpoint is joined **relatively** (RFC
//! 3986, like `urljoin`), so a path prefix in `master_url` is kept
//! (`http://h/erp5/` + `getFullComputerInformation` →
//! `http://h/erp5/getFullComputerInformation`).
//!
//! Only `http` is accepted for now: this crate is built without TLS.

use std::net::Ipv6Addr;

use reqwest::Url;

use crate::error::ClientError;

/// A master base URL ready for joining endpoint names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterUrl {
    base: Url,
}

impl MasterUrl {
    /// Parses a `master_url` (or `master_rest_url`) as the Python client
    /// normalises it.
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`] when it does not parse, has no host, or
    /// its scheme is not `http`.
    pub fn parse(text: &str) -> Result<MasterUrl, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl { url: text.to_owned(), reason: reason.to_owned() };
        let mut normalised = add_ipv6_brackets(text.trim());
        if !normalised.ends_with('/') {
            normalised.push('/');
        }
        let base = Url::parse(&normalised).map_err(|error| invalid(&error.to_string()))?;
        match base.scheme() {
            "http" => {}
            "https" => return Err(invalid("https masters are not supported yet by this build (plain http only)")),
            other => return Err(invalid(&format!("unsupported scheme {other:?}, expected http"))),
        }
        if base.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host"));
        }
        Ok(MasterUrl { base })
    }

    /// The URL of endpoint `name` (e.g. `requestComputerPartition`), joined
    /// relatively to the base. A leading `/` would replace the base path,
    /// as it does in Python.
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`] if the join fails.
    pub fn endpoint(&self, name: &str) -> Result<Url, ClientError> {
        self.base
            .join(name)
            .map_err(|error| ClientError::InvalidUrl { url: format!("{}{name}", self.base), reason: error.to_string() })
    }

    /// The base URL, with its trailing `/`.
    pub fn as_str(&self) -> &str {
        self.base.as_str()
    }
}

impl std::fmt::Display for MasterUrl {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.base.as_str())
    }
}

/// Parses an absolute URL handed out by the master (HATEOAS links),
/// refusing anything but `http`.
///
/// # Errors
/// [`ClientError::InvalidUrl`].
pub(crate) fn absolute_http_url(text: &str) -> Result<Url, ClientError> {
    let invalid = |reason: String| ClientError::InvalidUrl { url: text.to_owned(), reason };
    let url = Url::parse(&add_ipv6_brackets(text)).map_err(|error| invalid(error.to_string()))?;
    if url.scheme() != "http" {
        return Err(invalid(format!("unsupported scheme {:?}, expected http", url.scheme())));
    }
    Ok(url)
}

/// `slapos.util._addIpv6Brackets`: `http://::1:80/x` → `http://[::1]:80/x`.
/// Only a netloc that is wholly an IPv6 address, or one followed by
/// `:port`, is changed; anything else is returned as is.
fn add_ipv6_brackets(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let netloc_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (netloc, tail) = rest.split_at(netloc_end);
    let bracketed = if let Ok(address) = netloc.parse::<Ipv6Addr>() {
        format!("[{address}]")
    } else if let Some((host, port)) = netloc.rsplit_once(':') {
        match host.parse::<Ipv6Addr>() {
            Ok(address) if port.is_empty() => format!("[{address}]"),
            Ok(address) => format!("[{address}]:{port}"),
            Err(_) => return url.to_owned(),
        }
    } else {
        return url.to_owned();
    };
    format!("{scheme}://{bracketed}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(master_url: &str, endpoint: &str, expected: &str) {
        let master = MasterUrl::parse(master_url).expect("valid master URL");
        assert_eq!(master.endpoint(endpoint).expect("joins").as_str(), expected, "{master_url} + {endpoint}");
    }

    #[test]
    fn endpoints_join_relatively_after_a_trailing_slash() {
        check(
            "http://127.0.0.1:8080",
            "getFullComputerInformation",
            "http://127.0.0.1:8080/getFullComputerInformation",
        );
        check("http://127.0.0.1:8080/", "supplySupply", "http://127.0.0.1:8080/supplySupply");
        check(
            "http://h/erp5/web_site_module/slapos",
            "requestComputerPartition",
            "http://h/erp5/web_site_module/slapos/requestComputerPartition",
        );
        check("http://h/erp5/", "/getRunId", "http://h/getRunId");
        check("http://h/a/", "http://other/x", "http://other/x");
    }

    #[test]
    fn bare_ipv6_hosts_get_brackets() {
        // Ambiguous, as in Python: `::1:8080` is itself an IPv6 address.
        check("http://::1:8080", "getRunId", "http://[::1:8080]/getRunId");
        check("http://2001:db8:0:0:0:0:0:1:8080", "getRunId", "http://[2001:db8::1]:8080/getRunId");
        check("http://2001:db8::1/x", "y", "http://[2001:db8::1]/x/y");
        check("http://[::1]:8080/", "y", "http://[::1]:8080/y");
        assert_eq!(add_ipv6_brackets("http://localhost:80/a"), "http://localhost:80/a");
        assert_eq!(add_ipv6_brackets("not a url"), "not a url");
    }

    #[test]
    fn bad_master_urls_name_the_url() {
        let error = MasterUrl::parse("https://master/").expect_err("https unsupported");
        assert!(error.to_string().starts_with("invalid URL \"https://master/\": https masters are not supported"));
        let error = MasterUrl::parse("ftp://master/").expect_err("ftp");
        assert!(error.to_string().contains("unsupported scheme \"ftp\""));
        let error = MasterUrl::parse("master").expect_err("relative");
        assert!(error.to_string().starts_with("invalid URL \"master\""));
    }
}
