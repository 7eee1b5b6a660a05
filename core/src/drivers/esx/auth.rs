//! Credentials for an ESX connection, as libvirt finds them: the URI's user,
//! then libvirt's `auth.conf`, then the `virConnectAuth` callback. Passwords
//! are never logged or put in error messages.

use std::path::PathBuf;

use crate::drivers::{cred, Auth, CredRequest};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};

const ESX: ErrorDomain = ErrorDomain::Esx;

/// libvirt's `auth.conf` (an ini file): `[credentials-NAME]` groups with
/// `username`/`password`, and `[auth-SERVICE-HOST]` groups naming one with
/// `credentials=NAME`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuthConf {
    groups: Vec<(String, Vec<(String, String)>)>,
}

impl AuthConf {
    /// Parses the file's text (unknown lines are ignored, as libvirt's
    /// keyfile reader would reject them only when malformed).
    pub fn parse(text: &str) -> Result<Self> {
        let mut groups: Vec<(String, Vec<(String, String)>)> = Vec::new();
        for (no, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(g) = line.strip_prefix('[') {
                let name = g.strip_suffix(']').ok_or_else(|| bad(no))?;
                groups.push((name.trim().to_owned(), Vec::new()));
            } else if let Some((k, v)) = line.split_once('=') {
                let g = groups.last_mut().ok_or_else(|| bad(no))?;
                g.1.push((k.trim().to_owned(), v.trim().to_owned()));
            } else {
                return Err(bad(no));
            }
        }
        Ok(Self { groups })
    }

    /// Reads the file libvirt would: `LIBVIRT_AUTH_FILE`, else
    /// `$XDG_CONFIG_HOME/libvirt/auth.conf` (`~/.config/…`), else
    /// `/etc/libvirt/auth.conf`. `None` when there is none.
    pub fn load_default() -> Result<Option<Self>> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(p) = std::env::var_os("LIBVIRT_AUTH_FILE").filter(|p| !p.is_empty()) {
            candidates.push(PathBuf::from(p));
        } else {
            let xdg = std::env::var_os("XDG_CONFIG_HOME")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
            if let Some(x) = xdg {
                candidates.push(x.join("libvirt").join("auth.conf"));
            }
            candidates.push(PathBuf::from("/etc/libvirt/auth.conf"));
        }
        for p in candidates {
            match std::fs::read_to_string(&p) {
                Ok(t) => return Self::parse(&t).map(Some),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::system(ESX, format!("cannot read {}", p.display()), &e)),
            }
        }
        Ok(None)
    }

    fn get(&self, group: &str, key: &str) -> Option<&str> {
        self.groups
            .iter()
            .filter(|(g, _)| g == group)
            .flat_map(|(_, kv)| kv.iter())
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key` (`username`/`password`) for `service` on `host`, looking in
    /// `auth-SERVICE-HOST`, then `auth-SERVICE-default`.
    pub fn lookup(&self, service: &str, host: &str, key: &str) -> Option<String> {
        for g in [format!("auth-{service}-{host}"), format!("auth-{service}-default")] {
            if let Some(c) = self.get(&g, "credentials") {
                return self.get(&format!("credentials-{c}"), key).map(str::to_owned);
            }
        }
        None
    }
}

fn bad(line: usize) -> Error {
    Error::new(ErrorCode::ConfigUnsupported, ErrorDomain::Conf, format!("malformed auth.conf at line {}", line + 1))
}

fn ask(auth: Option<&Auth>, kinds: &[i32], prompt: String, challenge: &str, default: Option<&str>) -> Result<Option<String>> {
    let Some(auth) = auth else { return Ok(None) };
    let Some(&kind) = kinds.iter().find(|k| auth.cred_types.contains(k)) else { return Ok(None) };
    let mut req = [CredRequest {
        kind,
        prompt,
        challenge: Some(challenge.to_owned()),
        default: default.map(str::to_owned),
        result: None,
    }];
    (auth.callback)(&mut req).map_err(|e| match e.code {
        // libvirt's "Missing authentication callback" (a virConnectAuth without one).
        ErrorCode::InvalidArg => e,
        _ => Error::new(ErrorCode::AuthCancelled, ESX, format!("credential callback failed: {}", e.message)),
    })?;
    let [r] = req;
    Ok(r.result.or(r.default))
}

/// The user name and password for `host`.
pub fn credentials(uri_user: Option<&str>, service: &str, host: &str, auth: Option<&Auth>) -> Result<(String, String)> {
    let conf = AuthConf::load_default()?;
    let default_user = if service == "vpx" { "administrator" } else { "root" };
    // libvirt's ESX driver asks auth.conf for service "esx" on vpx:// too.
    let service = "esx";
    let user = match uri_user.filter(|u| !u.is_empty()) {
        Some(u) => u.to_owned(),
        None => match conf.as_ref().and_then(|c| c.lookup(service, host, "username")) {
            Some(u) => u,
            None => ask(auth, &[cred::AUTHNAME], format!("Enter username for {host} [{default_user}]"), host, Some(default_user))?
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| default_user.to_owned()),
        },
    };
    let password = match conf.as_ref().and_then(|c| c.lookup(service, host, "password")) {
        Some(p) => p,
        None => ask(
            auth,
            &[cred::PASSPHRASE, cred::NOECHOPROMPT],
            format!("Enter {user}'s password for {host}"),
            host,
            None,
        )?
        .ok_or_else(|| {
            Error::new(
                ErrorCode::AuthFailed,
                ESX,
                format!("Password request failed: no password for {user}@{host} from auth.conf or a credential callback"),
            )
        })?,
    };
    Ok((user, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_conf_lookup() {
        let c = AuthConf::parse(
            "# comment\n[credentials-x]\nusername=alice\npassword=p=w;d\n\n[auth-esx-127.0.0.1]\ncredentials=x\n[credentials-d]\nusername=dflt\n[auth-esx-default]\ncredentials=d\n",
        )
        .expect("parses");
        assert_eq!(c.lookup("esx", "127.0.0.1", "username").as_deref(), Some("alice"));
        assert_eq!(c.lookup("esx", "127.0.0.1", "password").as_deref(), Some("p=w;d"));
        assert_eq!(c.lookup("esx", "other", "username").as_deref(), Some("dflt"));
        assert_eq!(c.lookup("esx", "other", "password"), None);
        assert_eq!(c.lookup("vpx", "127.0.0.1", "username"), None);
        assert!(AuthConf::parse("key=value\n").is_err());
        assert!(AuthConf::parse("[open\n").is_err());
    }
}
