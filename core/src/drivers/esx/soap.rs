//! SOAP envelopes for the vSphere API and a namespace-correct, bounded
//! parser for the responses.
//!
//! The parser resolves namespaces instead of matching prefixes: vcsim writes
//! `xsi:type` as `XMLSchema-instance:type` with a local declaration, and omits
//! it on array items. It never panics: garbage, truncated documents, DTDs and
//! entity tricks give an error; depth and size are capped.

use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::NsReader;

/// `http://www.w3.org/2001/XMLSchema-instance`
const XSI: &[u8] = b"http://www.w3.org/2001/XMLSchema-instance";
/// `http://schemas.xmlsoap.org/soap/envelope/`
const SOAPENV: &[u8] = b"http://schemas.xmlsoap.org/soap/envelope/";

/// Deepest element nesting accepted in a response.
pub const MAX_DEPTH: usize = 128;
/// Largest response body accepted, in bytes.
pub const MAX_BODY: usize = 64 << 20;
/// Most elements accepted in one response.
const MAX_NODES: usize = 2_000_000;

/// One element of a parsed response: local name, plain (unprefixed)
/// attributes, the resolved `xsi:type` (local part), text and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// Local name (prefix dropped).
    pub name: String,
    /// Unprefixed attributes, e.g. a moref's `type`.
    pub attrs: Vec<(String, String)>,
    /// `xsi:type`, local part (`string` for `xsd:string`), when present.
    pub xsi_type: Option<String>,
    /// Concatenated text content of this element (not of its children).
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Node>,
    in_soapenv: bool,
}

impl Node {
    /// The value of unprefixed attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// First child named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Text of the first child named `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// Follows a `/`-separated path of child names.
    pub fn path(&self, path: &str) -> Option<&Node> {
        path.split('/').try_fold(self, |n, p| n.child(p))
    }

    /// The type name this element is declared as: `xsi:type`, else its own name.
    pub fn type_name(&self) -> &str {
        self.xsi_type.as_deref().unwrap_or(&self.name)
    }
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn local(qname: &[u8]) -> String {
    let l = match qname.iter().rposition(|&b| b == b':') {
        Some(i) => &qname[i + 1..],
        None => qname,
    };
    String::from_utf8_lossy(l).into_owned()
}

/// Parses a whole XML document into its root [`Node`].
pub fn parse(xml: &str) -> Result<Node, ParseError> {
    if xml.len() > MAX_BODY {
        return Err(ParseError(format!("response larger than {MAX_BODY} bytes")));
    }
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut count = 0usize;
    loop {
        let (res, ev) = reader.read_resolved_event().map_err(|e| ParseError(format!("XML error: {e}")))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                count += 1;
                if count > MAX_NODES {
                    return Err(ParseError("too many XML elements".into()));
                }
                if root.is_some() {
                    return Err(ParseError("content after the document element".into()));
                }
                let mut node = Node {
                    name: local(e.name().as_ref()),
                    in_soapenv: matches!(res, ResolveResult::Bound(Namespace(ns)) if ns == SOAPENV),
                    ..Node::default()
                };
                for a in e.attributes() {
                    let a = a.map_err(|err| ParseError(format!("XML attribute error: {err}")))?;
                    let key = a.key.as_ref();
                    if key == b"xmlns" || key.starts_with(b"xmlns:") {
                        continue;
                    }
                    let value = a
                        .decode_and_unescape_value(reader.decoder())
                        .map_err(|err| ParseError(format!("XML attribute error: {err}")))?
                        .into_owned();
                    let (ns, lname) = reader.resolve_attribute(a.key);
                    match ns {
                        ResolveResult::Bound(Namespace(n)) if n == XSI && lname.as_ref() == b"type" => {
                            node.xsi_type = Some(local(value.as_bytes()));
                        }
                        ResolveResult::Unbound => node.attrs.push((local(lname.as_ref()), value)),
                        _ => {}
                    }
                }
                if matches!(ev, Event::Empty(_)) {
                    attach(&mut stack, &mut root, node);
                } else {
                    if stack.len() >= MAX_DEPTH {
                        return Err(ParseError(format!("XML nested deeper than {MAX_DEPTH} levels")));
                    }
                    stack.push(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or_else(|| ParseError("unbalanced end tag".into()))?;
                attach(&mut stack, &mut root, node);
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(|e| ParseError(format!("XML text error: {e}")))?;
                match stack.last_mut() {
                    Some(n) => n.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err(ParseError("text outside the document element".into())),
                }
            }
            Event::CData(c) => {
                let s = String::from_utf8_lossy(&c.into_inner()).into_owned();
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&s);
                }
            }
            Event::DocType(_) => return Err(ParseError("DTDs are not accepted".into())),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(ParseError("truncated XML document".into()));
    }
    root.ok_or_else(|| ParseError("empty XML document".into()))
}

fn attach(stack: &mut [Node], root: &mut Option<Node>, node: Node) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => *root = Some(node),
    }
}

/// A SOAP fault as the server sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fault {
    /// `faultcode` (e.g. `ServerFaultCode`).
    pub code: String,
    /// `faultstring` (may be empty).
    pub string: String,
    /// The vSphere fault type (`ManagedObjectNotFound`), when given.
    pub kind: Option<String>,
    /// The detail element's fault object, when given.
    pub detail: Option<Node>,
}

impl Fault {
    fn from_node(n: &Node) -> Self {
        let detail = n.child("detail").and_then(|d| d.children.first()).cloned();
        let kind = detail.as_ref().map(|d| {
            d.xsi_type.clone().unwrap_or_else(|| d.name.strip_suffix("Fault").unwrap_or(&d.name).to_owned())
        });
        Self {
            code: n.child_text("faultcode").unwrap_or_default().trim().to_owned(),
            string: n.child_text("faultstring").unwrap_or_default().trim().to_owned(),
            kind,
            detail,
        }
    }

    /// The fault type, or `faultcode` when the server gave no detail.
    pub fn kind_or_code(&self) -> &str {
        self.kind.as_deref().unwrap_or(&self.code)
    }

    /// `Type - text` as libvirt words a fault.
    pub fn describe(&self) -> String {
        if self.string.is_empty() {
            self.kind_or_code().to_owned()
        } else {
            format!("{} - {}", self.kind_or_code(), self.string)
        }
    }
}

/// What a SOAP response body held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The method's response element (`XxxResponse`).
    Ok(Node),
    /// A `soapenv:Fault`.
    Fault(Fault),
}

/// Reads a SOAP envelope: the first element of `Body`, or its fault.
pub fn parse_reply(xml: &str) -> Result<Reply, ParseError> {
    let root = parse(xml)?;
    if root.name != "Envelope" || !root.in_soapenv {
        return Err(ParseError(format!("expected a SOAP Envelope, got <{}>", root.name)));
    }
    let body = root
        .children
        .iter()
        .find(|c| c.name == "Body" && c.in_soapenv)
        .ok_or_else(|| ParseError("SOAP Envelope without Body".into()))?;
    let first = body.children.first().ok_or_else(|| ParseError("empty SOAP Body".into()))?;
    if first.name == "Fault" && first.in_soapenv {
        Ok(Reply::Fault(Fault::from_node(first)))
    } else {
        Ok(Reply::Ok(first.clone()))
    }
}

/// XML-escapes text for element content and attribute values: core's
/// `virBufferEscapeString` escaper (which also drops C0 controls XML 1.0
/// cannot carry, so a request is never malformed).
pub fn esc(s: &str) -> String {
    crate::xml::escape(s)
}

/// A managed object reference: type and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MoRef {
    /// Managed object type (`VirtualMachine`).
    pub kind: String,
    /// Opaque id (`vm-9`).
    pub value: String,
}

impl MoRef {
    /// A reference of `kind` to `value`.
    pub fn new(kind: &str, value: &str) -> Self {
        Self { kind: kind.to_owned(), value: value.to_owned() }
    }

    /// Reads a moref element (`<x type="T">id</x>`); `None` when empty.
    pub fn from_node(n: &Node) -> Option<Self> {
        let value = n.text.trim();
        let kind = n.attr("type")?;
        if value.is_empty() || kind.is_empty() {
            return None;
        }
        Some(Self::new(kind, value))
    }

    /// `<tag type="T">id</tag>`.
    pub fn xml(&self, tag: &str) -> String {
        format!("<{tag} type=\"{}\">{}</{tag}>", esc(&self.kind), esc(&self.value))
    }

    /// The `_this` element of a call on this object.
    pub fn this(&self) -> String {
        self.xml("_this")
    }
}

/// The full request envelope for `<method xmlns="urn:vim25">inner</method>`.
pub fn envelope(method: &str, inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body><{method} xmlns=\"urn:vim25\">{inner}</{method}></soapenv:Body></soapenv:Envelope>"
    )
}

/// `<tag>escaped text</tag>`.
pub fn el(tag: &str, text: &str) -> String {
    format!("<{tag}>{}</{tag}>", esc(text))
}

/// Parses an `xsd:dateTime` (`2026-11-25T17:38:38.984951337Z`, offsets
/// allowed) into Unix seconds.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = s.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let (y, mo, da): (i64, i64, i64) = (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    if rest.len() < 8 || !rest.is_char_boundary(8) {
        return None;
    }
    let (hms, mut tail) = rest.split_at(8);
    let mut t = hms.splitn(3, ':');
    let (h, mi, se): (i64, i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    if let Some(frac) = tail.strip_prefix('.') {
        let end = frac.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac.len());
        tail = &frac[end..];
    }
    let offset = match tail {
        "" | "Z" => 0,
        _ => {
            let sign = match tail.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = tail.get(1..)?.split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    Some(crate::time::unix_from_civil(y, mo, da, h, mi, se)? - offset)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const PROP: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="VirtualMachine">vm-9</obj><propSet><name>name</name><val xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="xsd:string">a &amp; b &#34;c&#34;</val></propSet><propSet><name>host</name><val xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="ArrayOfManagedObjectReference"><ManagedObjectReference type="HostSystem">ha-host</ManagedObjectReference></val></propSet></objects></returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>"#;

    const FAULT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>managed object not found: VirtualMachineSnapshot:snapshot-999</faultstring><detail><ManagedObjectNotFoundFault xmlns="urn:vim25" xsi:type="ManagedObjectNotFound"><obj type="VirtualMachineSnapshot">snapshot-999</obj></ManagedObjectNotFoundFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;

    #[test]
    fn resolves_xsi_under_any_prefix() {
        let Ok(Reply::Ok(r)) = parse_reply(PROP) else { panic!("not a reply") };
        assert_eq!(r.name, "RetrievePropertiesExResponse");
        let obj = r.path("returnval/objects").expect("objects");
        let props: Vec<_> = obj.children_named("propSet").collect();
        let v = props[0].child("val").expect("val");
        assert_eq!((v.xsi_type.as_deref(), v.text.as_str()), (Some("string"), "a & b \"c\""));
        let arr = props[1].child("val").expect("val");
        assert_eq!(arr.type_name(), "ArrayOfManagedObjectReference");
        let item = &arr.children[0];
        assert_eq!(item.xsi_type, None);
        assert_eq!(MoRef::from_node(item), Some(MoRef::new("HostSystem", "ha-host")));
    }

    #[test]
    fn reads_faults() {
        let Ok(Reply::Fault(f)) = parse_reply(FAULT) else { panic!("not a fault") };
        assert_eq!(f.kind.as_deref(), Some("ManagedObjectNotFound"));
        assert_eq!(f.code, "ServerFaultCode");
        assert!(f.describe().starts_with("ManagedObjectNotFound - managed object not found"));
        let no_type = FAULT.replace(" xsi:type=\"ManagedObjectNotFound\"", "");
        let Ok(Reply::Fault(f)) = parse_reply(&no_type) else { panic!("not a fault") };
        assert_eq!(f.kind.as_deref(), Some("ManagedObjectNotFound"));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in [
            "",
            "garbage",
            "<html><body>502 Bad Gateway</body></html>",
            "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>",
            "<Envelope><Body><X/></Body></Envelope>",
            "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>",
            "<x>&unknown;</x>",
            "<a></b>",
            "<a/><b/>",
            "\u{0}\u{1}<<<>>>",
        ] {
            assert!(parse_reply(bad).is_err(), "accepted {bad:?}");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 5) + &"</a>".repeat(MAX_DEPTH + 5);
        assert!(parse(&deep).is_err());
    }

    /// Property test: every truncation and many random byte mutations of
    /// real responses parse or fail cleanly, never panic.
    #[test]
    fn mutations_never_panic() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for doc in [PROP, FAULT] {
            for cut in 0..doc.len() {
                if doc.is_char_boundary(cut) {
                    let r = parse_reply(&doc[..cut]);
                    assert!(r.is_err() || cut > doc.len() - 3, "truncated at {cut} accepted");
                }
            }
            let alphabet = b"<>/&;\"'=:x \n\0#![]-";
            for _ in 0..3000 {
                let mut b = doc.as_bytes().to_vec();
                for _ in 0..(next() % 4 + 1) {
                    let i = usize::try_from(next() % b.len() as u64).unwrap_or(0);
                    let c = alphabet[usize::try_from(next() % alphabet.len() as u64).unwrap_or(0)];
                    match next() % 3 {
                        0 => b[i] = c,
                        1 => b.insert(i, c),
                        _ => {
                            b.remove(i);
                        }
                    }
                }
                let s = String::from_utf8_lossy(&b);
                let _ = parse_reply(&s);
            }
        }
    }

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("2026-11-25T17:38:38.984951337Z"), Some(1_795_628_318));
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_datetime("2010-05-03T22:13:51+02:00"), Some(1_272_917_631));
        assert_eq!(parse_datetime("2010-05-03T20:13:51"), Some(1_272_917_631));
        assert_eq!(parse_datetime("yesterday"), None);
        assert_eq!(parse_datetime("2010-13-03T20:13:51Z"), None);
        assert_eq!(parse_datetime("2010-05-03T2é:13:51Z"), None);
    }

    #[test]
    fn envelopes_escape() {
        let e = envelope("Login", &el("password", "a<&>\"'"));
        assert!(e.contains("<password>a&lt;&amp;&gt;&quot;&apos;</password>"));
        assert!(matches!(parse(&e), Ok(n) if n.name == "Envelope"));
    }
}
