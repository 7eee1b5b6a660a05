//! `--xpath` / `--wrap` of dumpxml and snapshot-dumpxml (virsh's
//! `virshDumpXML`): a location-path subset of XPath 1.0 (`/a/b`, `//a`,
//! `*`, `@attr`, `@*`, `text()`, `.`, `..` and `[N]` positions), with the
//! results written as libxml2 writes them (2-space indent, double quotes).

use virsnap_core::ErrorDomain;
use virsnap_core::xml::{Element, Node, parse_document};

#[derive(Clone)]
enum Hit<'a> {
    Elem(&'a Element, Vec<&'a Element>),
    Attr(&'a str, &'a str),
    Text(String),
}

/// libxml2's escaping (core's), as `xmlNodeDump` writes it.
fn esc(s: &str, attr: bool) -> String {
    let mut o = String::with_capacity(s.len());
    virsnap_core::xml::escape_libxml2_into(&mut o, s, attr);
    o
}

/// libxml2's formatted dump of an element at `indent`.
fn dump(e: &Element, indent: usize, out: &mut String) {
    out.push('<');
    out.push_str(&e.name);
    for (k, v) in &e.attrs {
        out.push_str(&format!(" {k}=\"{}\"", esc(v, true)));
    }
    let has_elems = e.children.iter().any(|n| matches!(n, Node::Element(_)));
    let text: String = e
        .children
        .iter()
        .filter_map(|n| {
            if let Node::Text(t) = n {
                Some(t.as_str())
            } else {
                None
            }
        })
        .collect();
    if e.children.is_empty() || (!has_elems && text.is_empty()) {
        out.push_str("/>");
        return;
    }
    out.push('>');
    if !has_elems {
        out.push_str(&esc(&text, false));
    } else {
        for n in &e.children {
            match n {
                Node::Element(c) => {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent + 2));
                    dump(c, indent + 2, out);
                }
                Node::Text(t) if !t.trim().is_empty() => out.push_str(&esc(t, false)),
                Node::Text(_) => {}
            }
        }
        out.push('\n');
        out.push_str(&" ".repeat(indent));
    }
    out.push_str("</");
    out.push_str(&e.name);
    out.push('>');
}

fn children(e: &Element) -> impl Iterator<Item = &Element> {
    e.children.iter().filter_map(|n| {
        if let Node::Element(c) = n {
            Some(c)
        } else {
            None
        }
    })
}

fn descendants<'a>(
    e: &'a Element,
    path: &[&'a Element],
    out: &mut Vec<(&'a Element, Vec<&'a Element>)>,
) {
    for c in children(e) {
        let mut p = path.to_vec();
        p.push(e);
        out.push((c, p.clone()));
        descendants(c, &p, out);
    }
}

/// Evaluates `expr` against `root`; `None` when the expression is not a
/// location path this subset understands.
fn eval<'a>(root: &'a Element, expr: &str) -> Option<Vec<Hit<'a>>> {
    let expr = expr.trim();
    if !expr.starts_with('/') {
        return None;
    }
    let mut cur: Vec<Hit<'a>> = Vec::new();
    let mut rest = expr;
    let mut first = true;
    while !rest.is_empty() {
        let desc = rest.starts_with("//");
        rest = if desc {
            &rest[2..]
        } else {
            rest.strip_prefix('/')?
        };
        let end = rest.find('/').unwrap_or(rest.len());
        let step = &rest[..end];
        rest = &rest[end..];
        let (test, pos) = match step.split_once('[') {
            Some((t, p)) => (t, Some(p.strip_suffix(']')?.trim().parse::<usize>().ok()?)),
            None => (step, None),
        };
        if test.is_empty() {
            return None;
        }
        // candidate nodes for this step, per context node
        let contexts: Vec<(Option<&'a Element>, Vec<&'a Element>)> = if first {
            vec![(None, Vec::new())]
        } else {
            cur.iter()
                .filter_map(|h| {
                    if let Hit::Elem(e, p) = h {
                        Some((Some(*e), p.clone()))
                    } else {
                        None
                    }
                })
                .collect()
        };
        first = false;
        let mut next: Vec<Hit<'a>> = Vec::new();
        for (ctx, path) in contexts {
            let mut cands: Vec<(&'a Element, Vec<&'a Element>)> = Vec::new();
            match ctx {
                None => {
                    cands.push((root, Vec::new()));
                    if desc {
                        descendants(root, &[], &mut cands);
                    }
                }
                Some(e) => {
                    if desc {
                        descendants(e, &path, &mut cands);
                    } else {
                        let mut p = path.clone();
                        p.push(e);
                        cands.extend(children(e).map(|c| (c, p.clone())));
                    }
                }
            }
            let mut matched: Vec<Hit<'a>> = Vec::new();
            if let Some(a) = test.strip_prefix('@') {
                let e = ctx?;
                for (k, v) in &e.attrs {
                    if a == "*" || a == k {
                        matched.push(Hit::Attr(k, v));
                    }
                }
            } else if test == "text()" {
                let e = ctx?;
                for n in &e.children {
                    if let Node::Text(t) = n {
                        matched.push(Hit::Text(t.clone()));
                    }
                }
            } else if test == "." {
                if let Some(e) = ctx {
                    matched.push(Hit::Elem(e, path.clone()));
                }
            } else if test == ".." {
                if let Some(p) = path.last() {
                    matched.push(Hit::Elem(p, path[..path.len() - 1].to_vec()));
                }
            } else {
                if !test
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-_:.*".contains(c))
                {
                    return None;
                }
                for (c, p) in cands {
                    if test == "*" || c.name == test {
                        matched.push(Hit::Elem(c, p));
                    }
                }
            }
            match pos {
                Some(n) if n >= 1 => {
                    if let Some(h) = matched.into_iter().nth(n - 1) {
                        next.push(h);
                    }
                }
                Some(_) => {}
                None => next.extend(matched),
            }
        }
        // remove duplicates (descendant steps can reach a node twice)
        let mut seen: Vec<&Element> = Vec::new();
        next.retain(|h| match h {
            Hit::Elem(e, _) => {
                if seen.iter().any(|s| std::ptr::eq(*s, *e)) {
                    false
                } else {
                    seen.push(e);
                    true
                }
            }
            _ => true,
        });
        cur = next;
    }
    Some(cur)
}

/// virsh's output for `--xpath EXPR [--wrap]` over document `xml`.
pub fn dump_xml(xml: &str, expr: &str, wrap: bool) -> Result<String, String> {
    let root = parse_document(xml, "domain", ErrorDomain::Xml).map_err(|e| e.message)?;
    let hits =
        eval(&root, expr).ok_or_else(|| format!("internal error: Incorrect xpath '{expr}'"))?;
    let mut out = String::new();
    if wrap {
        let mut nodes = Element::new("nodes");
        for h in &hits {
            match h {
                Hit::Elem(e, _) => nodes.children.push(Node::Element((*e).clone())),
                Hit::Attr(k, v) => nodes.attrs.push(((*k).to_owned(), (*v).to_owned())),
                Hit::Text(t) => nodes.children.push(Node::Text(t.clone())),
            }
        }
        dump(&nodes, 0, &mut out);
        out.push('\n');
        return Ok(out);
    }
    for h in hits {
        match h {
            Hit::Elem(e, _) => dump(e, 0, &mut out),
            Hit::Attr(k, v) => out.push_str(&format!(" {k}=\"{}\"", esc(v, true))),
            Hit::Text(t) => out.push_str(&esc(&t, false)),
        }
        out.push('\n');
    }
    Ok(out)
}
