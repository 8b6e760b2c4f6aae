//! The usage formats of the report loop (spec §7 steps 3–5), without I/O:
//! reading a partition's consumption file (`partition_consumption.xsd`),
//! recognising a compute node's journal file (`computer_consumption.xsd`),
//! turning measured usage into movements, and writing the one journal the
//! node POSTs to `useComputer`.
//!
//! The journal is byte for byte what slapgrid writes (tags concatenated,
//! no whitespace), because the master parses it as slapgrid's; movements
//! are copied child by child with `<reference>` replaced by the partition,
//! as slapgrid does, so a release may add children we do not know.

use std::fmt::Write as _;

/// How deep a consumption document may nest; theirs is three levels.
const DEPTH_MAX: usize = 16;

/// One `<movement>`: its children in document order, as (tag, text).
#[derive(Debug, Clone, PartialEq)]
pub struct Movement {
    /// The children (`resource`, `title`, `reference`, `quantity`,
    /// `price`, `VAT`, `category`…), text unescaped.
    pub children: Vec<(String, String)>,
}

/// What one partition used, measured by the node itself.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MeasuredUsage {
    /// CPU time (user + system) of its processes, in seconds.
    pub cpu_seconds: f64,
    /// Resident memory of its processes, in bytes.
    pub memory_bytes: u64,
    /// Bytes under its directory (apparent sizes, as `du -sb`).
    pub disk_bytes: u64,
}

/// A parsed element: name, child elements, and its own text.
#[derive(Debug, Default)]
struct Element {
    name: String,
    children: Vec<Element>,
    text: String,
}

/// Parses a partition's consumption file: a `<consumption>` holding at
/// least one `<movement>` whose children follow `partition_consumption.xsd`
/// (`resource`, `title`?, `reference`?, `quantity` (float), `price`
/// (float), `VAT`, `category`*).
///
/// # Errors
/// Why the file is not a valid consumption document (it then stays where
/// it is, as slapgrid leaves invalid files).
pub fn parse_consumption(text: &str) -> Result<Vec<Movement>, String> {
    let root = parse_tree(text)?;
    if root.name != "consumption" {
        return Err(format!("the root element is <{}>, not <consumption>", root.name));
    }
    if root.children.is_empty() {
        return Err("<consumption> holds no <movement>".to_owned());
    }
    let mut movements = Vec::with_capacity(root.children.len());
    for (index, movement) in root.children.iter().enumerate() {
        if movement.name != "movement" {
            return Err(format!("<consumption> holds <{}>, not only <movement>", movement.name));
        }
        check_movement(movement).map_err(|why| format!("movement {}: {why}", index + 1))?;
        movements.push(Movement {
            children: movement.children.iter().map(|child| (child.name.clone(), child.text.clone())).collect(),
        });
    }
    Ok(movements)
}

/// The sequence of `partition_consumption.xsd`.
fn check_movement(movement: &Element) -> Result<(), String> {
    let mut children = movement.children.iter().peekable();
    let mut take = |name: &str, required: bool| -> Result<Option<&Element>, String> {
        match children.peek() {
            Some(child) if child.name == name => Ok(children.next()),
            _ if required => Err(format!("<{name}> missing or out of order")),
            _ => Ok(None),
        }
    };
    take("resource", true)?;
    take("title", false)?;
    take("reference", false)?;
    for number in ["quantity", "price"] {
        if let Some(element) = take(number, true)? {
            if element.text.trim().parse::<f64>().is_err() {
                return Err(format!("<{number}> {:?} is not a number", element.text));
            }
        }
    }
    take("VAT", true)?;
    while take("category", false)?.is_some() {}
    match children.next() {
        Some(extra) => Err(format!("unexpected <{}>", extra.name)),
        None => Ok(()),
    }
}

/// Whether a file of `instance_root/var/xml_report/<computer_id>/` is a
/// compute node journal (`computer_consumption.xsd`: a `<journal>` of
/// `<transaction>`s), which is posted as it is.
///
/// # Errors
/// Why it is not one.
pub fn check_computer_journal(text: &str) -> Result<(), String> {
    let root = parse_tree(text)?;
    if root.name != "journal" {
        return Err(format!("the root element is <{}>, not <journal>", root.name));
    }
    if root.children.is_empty() || root.children.iter().any(|child| child.name != "transaction") {
        return Err("<journal> must hold one or more <transaction> and nothing else".to_owned());
    }
    Ok(())
}

/// The movements slapgrid-like accounting expects from measured usage:
/// CPU seconds, memory bytes and disk bytes of `partition`, free of charge.
pub fn measured_movements(partition: &str, usage: &MeasuredUsage) -> Vec<Movement> {
    let movement = |resource: &str, title: &str, quantity: String, category: &str| Movement {
        children: vec![
            ("resource".to_owned(), resource.to_owned()),
            ("title".to_owned(), title.to_owned()),
            ("reference".to_owned(), partition.to_owned()),
            ("quantity".to_owned(), quantity),
            ("price".to_owned(), "0.0".to_owned()),
            ("VAT".to_owned(), String::new()),
            ("category".to_owned(), category.to_owned()),
        ],
    };
    vec![
        movement("cpu_time", "CPU time in seconds", format!("{:?}", usage.cpu_seconds), "cpu"),
        movement("memory", "Resident memory in bytes", usage.memory_bytes.to_string(), "memory"),
        movement("disk", "Disk usage in bytes", usage.disk_bytes.to_string(), "disk"),
    ]
}

/// The journal POSTed to `useComputer` (spec §7 step 5): every movement
/// of every partition, each `<reference>` replaced by its partition id.
/// `stop_date` is `YYYY-mm-dd at HH:MM:SS` in the node's local time.
pub fn journal(computer_id: &str, stop_date: &str, movements: &[(String, Movement)]) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\"?><journal><transaction type=\"Sale Packing List\"><title>Resource consumptions</title>\
         <start_date></start_date><stop_date>{}</stop_date><reference>{}</reference><currency></currency>\
         <payment_mode></payment_mode><category></category><arrow type=\"Administration\"><source></source>\
         <destination></destination></arrow>",
        escape(stop_date),
        escape(computer_id)
    );
    for (partition, movement) in movements {
        xml.push_str("<movement>");
        for (tag, text) in &movement.children {
            let text = if tag == "reference" { partition } else { text };
            let _ = write!(xml, "<{tag}>{}</{tag}>", escape(text));
        }
        xml.push_str("</movement>");
    }
    xml.push_str("</transaction></journal>");
    xml
}

/// Escapes text for element content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            other => out.push(other),
        }
    }
    out
}

/// Reads a whole document into a tree of elements (no attributes kept:
/// neither format has meaningful ones). Rejects any DTD, so no entity can
/// be expanded.
fn parse_tree(text: &str) -> Result<Element, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|error| format!("malformed XML at byte {position}: {error}"))?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                return Err(format!("<{name}> after the root element"));
            }
            Event::Start(start) => {
                if stack.len() >= DEPTH_MAX {
                    return Err(format!("elements nested deeper than {DEPTH_MAX}"));
                }
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                stack.push(Element { name, ..Element::default() });
            }
            Event::Empty(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                close(&mut stack, &mut root, Element { name, ..Element::default() });
            }
            Event::End(_) => match stack.pop() {
                Some(element) => close(&mut stack, &mut root, element),
                None => return Err(format!("closing tag without an open element at byte {position}")),
            },
            Event::Text(text) => {
                let unescaped = text.unescape().map_err(|error| format!("bad text at byte {position}: {error}"))?;
                match stack.last_mut() {
                    Some(open) => open.text.push_str(&unescaped),
                    None => return Err(format!("text outside the root element at byte {position}")),
                }
            }
            Event::CData(data) => match stack.last_mut() {
                Some(open) => open.text.push_str(&String::from_utf8_lossy(&data)),
                None => return Err(format!("CDATA outside the root element at byte {position}")),
            },
            Event::DocType(_) => return Err("a DOCTYPE is not accepted".to_owned()),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{}> is never closed", open.name));
    }
    root.ok_or_else(|| "no root element".to_owned())
}

/// Attaches a finished element to its parent, or makes it the root.
fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "<?xml version='1.0' encoding='utf-8'?>\n<consumption>\n  <movement>\n    \
        <resource>CPU Consumption</resource>\n    <title>CPU consumption of the partition</title>\n    \
        <reference>whatever</reference>\n    <quantity>42.5</quantity>\n    <price>0.0</price>\n    \
        <VAT>VAT/Normal</VAT>\n    <category>caucase &amp; co</category>\n  </movement>\n</consumption>\n";

    fn check_invalid(text: &str, why: &str) {
        match parse_consumption(text) {
            Ok(movements) => panic!("accepted {text:?}: {movements:?}"),
            Err(error) => assert!(error.contains(why), "{error:?} does not say {why:?}"),
        }
    }

    #[test]
    fn a_valid_consumption_file_gives_its_movements_in_order() {
        let movements = parse_consumption(VALID).expect("valid");
        assert_eq!(movements.len(), 1);
        let tags: Vec<&str> = movements[0].children.iter().map(|(tag, _)| tag.as_str()).collect();
        assert_eq!(tags, ["resource", "title", "reference", "quantity", "price", "VAT", "category"]);
        assert_eq!(movements[0].children[6].1, "caucase & co");
        let minimal = "<consumption><movement><resource>r</resource><quantity>1</quantity><price>2</price><VAT/></movement></consumption>";
        assert_eq!(parse_consumption(minimal).expect("minimal").len(), 1);
    }

    #[test]
    fn invalid_consumption_files_are_refused_with_the_reason() {
        check_invalid("<consumption></consumption>", "no <movement>");
        check_invalid("<journal><movement/></journal>", "not <consumption>");
        check_invalid("<consumption><movement><quantity>1</quantity></movement></consumption>", "<resource> missing");
        check_invalid(
            "<consumption><movement><resource>r</resource><quantity>lots</quantity><price>0</price><VAT/></movement></consumption>",
            "not a number",
        );
        check_invalid(
            "<consumption><movement><resource>r</resource><quantity>1</quantity><price>0</price></movement></consumption>",
            "<VAT> missing",
        );
        check_invalid(
            "<consumption><movement><resource>r</resource><quantity>1</quantity><price>0</price><VAT/><colour/></movement></consumption>",
            "unexpected <colour>",
        );
        check_invalid("<consumption><movement>", "never closed");
        check_invalid("<consumption></movement>", "malformed");
        check_invalid("<!DOCTYPE x [<!ENTITY a 'b'>]><consumption/>", "DOCTYPE");
        check_invalid("", "no root");
        check_invalid(&"<a>".repeat(40), "deeper");
    }

    #[test]
    fn computer_journals_are_recognised() {
        assert_eq!(check_computer_journal("<journal><transaction type='x'><title/></transaction></journal>"), Ok(()));
        assert!(check_computer_journal("<journal/>").is_err());
        assert!(check_computer_journal("<consumption/>").is_err());
    }

    #[test]
    fn the_journal_is_slapgrids_byte_for_byte() {
        let file = parse_consumption(VALID).expect("valid").remove(0);
        let measured = measured_movements(
            "slappart1",
            &MeasuredUsage { cpu_seconds: 1.5, memory_bytes: 4096, disk_bytes: 12288 },
        );
        let mut all = vec![("slappart0".to_owned(), file)];
        all.extend(measured.into_iter().map(|movement| ("slappart1".to_owned(), movement)));
        let xml = journal("COMP-1", "2026-11-25 at 20:30:00", &all);
        let expected = concat!(
            "<?xml version=\"1.0\"?><journal><transaction type=\"Sale Packing List\"><title>Resource consumptions</title>",
            "<start_date></start_date><stop_date>2026-11-25 at 20:30:00</stop_date><reference>COMP-1</reference>",
            "<currency></currency><payment_mode></payment_mode><category></category><arrow type=\"Administration\">",
            "<source></source><destination></destination></arrow>",
            "<movement><resource>CPU Consumption</resource><title>CPU consumption of the partition</title>",
            "<reference>slappart0</reference><quantity>42.5</quantity><price>0.0</price><VAT>VAT/Normal</VAT>",
            "<category>caucase &amp; co</category></movement>",
            "<movement><resource>cpu_time</resource><title>CPU time in seconds</title><reference>slappart1</reference>",
            "<quantity>1.5</quantity><price>0.0</price><VAT></VAT><category>cpu</category></movement>",
            "<movement><resource>memory</resource><title>Resident memory in bytes</title><reference>slappart1</reference>",
            "<quantity>4096</quantity><price>0.0</price><VAT></VAT><category>memory</category></movement>",
            "<movement><resource>disk</resource><title>Disk usage in bytes</title><reference>slappart1</reference>",
            "<quantity>12288</quantity><price>0.0</price><VAT></VAT><category>disk</category></movement>",
            "</transaction></journal>",
        );
        assert_eq!(xml, expected);
        check_computer_journal(&xml).expect("our journal is a valid computer journal");
    }
}
