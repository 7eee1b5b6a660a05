//! Property reads through the PropertyCollector (`RetrievePropertiesEx`,
//! following `token`s with `ContinueRetrievePropertiesEx`).

use super::session::Session;
use super::soap::{el, MoRef, Node};
use crate::error::{Error, ErrorCode, ErrorDomain, Result};

/// One object's properties.
#[derive(Debug, Clone, Default)]
pub struct ObjectContent {
    /// The object.
    pub obj: Option<MoRef>,
    /// `(path, val)` pairs that came back.
    pub props: Vec<(String, Node)>,
    /// `(path, fault type)` for paths the server could not read.
    pub missing: Vec<(String, String)>,
}

impl ObjectContent {
    fn from_node(n: &Node) -> Self {
        let mut oc = Self { obj: n.child("obj").and_then(MoRef::from_node), ..Self::default() };
        for p in n.children_named("propSet") {
            if let (Some(name), Some(val)) = (p.child_text("name"), p.child("val")) {
                oc.props.push((name.trim().to_owned(), val.clone()));
            }
        }
        for m in n.children_named("missingSet") {
            let path = m.child_text("path").unwrap_or_default().trim().to_owned();
            let kind = m
                .child("fault")
                .and_then(|f| f.child("fault").or(Some(f)))
                .map(|f| f.type_name().to_owned())
                .unwrap_or_default();
            oc.missing.push((path, kind));
        }
        oc
    }

    /// The value of property `path`, if set.
    pub fn prop(&self, path: &str) -> Option<&Node> {
        self.props.iter().find(|(p, _)| p == path).map(|(_, v)| v)
    }

    /// Trimmed text of property `path`, if set.
    pub fn text(&self, path: &str) -> Option<&str> {
        self.prop(path).map(|v| v.text.trim())
    }
}

/// `<propSet>` for `kind` with `paths`.
pub fn prop_spec(kind: &str, paths: &[&str]) -> String {
    let mut s = format!("<propSet>{}<all>false</all>", el("type", kind));
    for p in paths {
        s.push_str(&el("pathSet", p));
    }
    s.push_str("</propSet>");
    s
}

/// Runs one `RetrievePropertiesEx` with `spec_inner` (the content of
/// `<specSet>`) and every continuation.
pub fn retrieve(session: &Session, spec_inner: &str) -> Result<Vec<ObjectContent>> {
    if let Some(v) = retrieve_pages(session, spec_inner)? {
        return Ok(v);
    }
    // The collector answers unauthenticated reads with HTTP 200 and a
    // NotAuthenticated missingSet: log in again and read once more.
    session.relogin()?;
    retrieve_pages(session, spec_inner)?
        .ok_or_else(|| Error::new(ErrorCode::AuthFailed, ErrorDomain::Esx, "the server does not accept this session"))
}

fn retrieve_pages(session: &Session, spec_inner: &str) -> Result<Option<Vec<ObjectContent>>> {
    let pc = session.property_collector();
    let body = format!("{}<specSet>{spec_inner}</specSet><options></options>", pc.this());
    let mut out = Vec::new();
    let mut resp = session.call("RetrievePropertiesEx", &body)?;
    while let Some(rv) = resp.child("returnval") {
        for o in rv.children_named("objects") {
            let oc = ObjectContent::from_node(o);
            if oc.missing.iter().any(|(_, k)| k == "NotAuthenticated") {
                return Ok(None);
            }
            out.push(oc);
        }
        match rv.child_text("token").map(str::trim).filter(|t| !t.is_empty()) {
            Some(tok) => {
                let body = format!("{}{}", pc.this(), el("token", tok));
                resp = session.call("ContinueRetrievePropertiesEx", &body)?;
            }
            None => break,
        }
    }
    Ok(Some(out))
}

/// Reads `paths` of one object; unset properties are simply absent.
pub fn read(session: &Session, obj: &MoRef, paths: &[&str]) -> Result<ObjectContent> {
    let spec = format!(
        "{}<objectSet>{}<skip>false</skip></objectSet>",
        prop_spec(&obj.kind, paths),
        obj.xml("obj")
    );
    let mut all = retrieve(session, &spec)?;
    match all.iter().position(|o| o.obj.as_ref() == Some(obj)) {
        Some(i) => Ok(all.swap_remove(i)),
        None => Ok(ObjectContent { obj: Some(obj.clone()), ..ObjectContent::default() }),
    }
}

/// A traversal from the root folder to every VirtualMachine, on a host or
/// a vCenter (folders, datacenters' vmFolder, nested folders and vApps).
pub fn vm_traversal(root: &MoRef) -> String {
    format!(
        "<objectSet>{}<skip>false</skip>\
         <selectSet xsi:type=\"TraversalSpec\"><name>folderToChild</name><type>Folder</type><path>childEntity</path><skip>false</skip>\
         <selectSet><name>folderToChild</name></selectSet><selectSet><name>dcToVmFolder</name></selectSet></selectSet>\
         <selectSet xsi:type=\"TraversalSpec\"><name>dcToVmFolder</name><type>Datacenter</type><path>vmFolder</path><skip>false</skip>\
         <selectSet><name>folderToChild</name></selectSet></selectSet>\
         </objectSet>",
        root.xml("obj")
    )
}
