//! Join the PDFs of a report's parts into one: every part's objects renumbered into one
//! space, their pages in order under one page tree, one catalog. What only made sense
//! inside a part (its catalog, page tree, outline and structure tree) is dropped.

use std::collections::{BTreeMap, HashSet};

use lopdf::{Dictionary, Document, Object, ObjectId};

use crate::PdfError;

fn join_error(e: lopdf::Error) -> PdfError {
    PdfError::Join(e.to_string())
}

/// One PDF with the pages of `parts`, in order, titled `title`.
pub(crate) fn join(parts: &[Vec<u8>], title: &str) -> Result<Vec<u8>, PdfError> {
    let mut next_id = 1;
    let mut pages: Vec<ObjectId> = Vec::new();
    let mut objects: BTreeMap<ObjectId, Object> = BTreeMap::new();
    for bytes in parts {
        let mut doc = Document::load_mem(bytes).map_err(join_error)?;
        doc.renumber_objects_with(next_id);
        next_id = doc.max_id + 1;
        pages.extend(doc.get_pages().into_values());
        // The part's own catalog and page tree give way to the joined document's.
        let root = doc.trailer.get(b"Root").and_then(Object::as_reference).ok();
        objects
            .extend(doc.objects.into_iter().filter(|(id, obj)| Some(*id) != root && !is_type(obj, b"Pages")));
    }
    let tree_id = (next_id, 0);
    let catalog_id = (next_id + 1, 0);
    let info_id = (next_id + 2, 0);
    for id in &pages {
        if let Some(Object::Dictionary(page)) = objects.get_mut(id) {
            page.set("Parent", tree_id);
        }
    }
    let mut out = Document::with_version("1.7");
    out.objects = objects;
    let kids: Vec<Object> = pages.iter().map(|id| Object::Reference(*id)).collect();
    let count = i64::try_from(kids.len()).unwrap_or(i64::MAX);
    out.objects.insert(
        tree_id,
        Object::Dictionary(Dictionary::from_iter([
            ("Type", Object::Name(b"Pages".to_vec())),
            ("Kids", Object::Array(kids)),
            ("Count", Object::Integer(count)),
        ])),
    );
    out.objects.insert(
        catalog_id,
        Object::Dictionary(Dictionary::from_iter([
            ("Type", Object::Name(b"Catalog".to_vec())),
            ("Pages", Object::Reference(tree_id)),
        ])),
    );
    out.objects.insert(
        info_id,
        Object::Dictionary(Dictionary::from_iter([
            ("Title", Object::string_literal(title)),
            ("Producer", Object::string_literal("OpenWatch")),
        ])),
    );
    out.trailer.set("Root", catalog_id);
    out.trailer.set("Info", info_id);
    out.max_id = info_id.0;
    // Structure trees and outlines of the parts hung from their dropped catalogs: keep only
    // what the new trailer reaches (lopdf's own pruning is quadratic in the object count).
    let keep = reachable(&out);
    out.objects.retain(|id, _| keep.contains(id));
    let mut pdf = Vec::new();
    out.save_to(&mut pdf).map_err(|e| PdfError::Join(e.to_string()))?;
    Ok(pdf)
}

/// The objects the trailer reaches, directly or through others.
fn reachable(doc: &Document) -> HashSet<ObjectId> {
    fn refs(obj: &Object, out: &mut Vec<ObjectId>) {
        match obj {
            Object::Reference(id) => out.push(*id),
            Object::Array(items) => items.iter().for_each(|o| refs(o, out)),
            Object::Dictionary(d) => d.iter().for_each(|(_, o)| refs(o, out)),
            Object::Stream(s) => s.dict.iter().for_each(|(_, o)| refs(o, out)),
            _ => {}
        }
    }
    let mut todo = Vec::new();
    doc.trailer.iter().for_each(|(_, o)| refs(o, &mut todo));
    let mut seen = HashSet::new();
    while let Some(id) = todo.pop() {
        if seen.insert(id)
            && let Some(obj) = doc.objects.get(&id)
        {
            refs(obj, &mut todo);
        }
    }
    seen
}

fn is_type(obj: &Object, name: &[u8]) -> bool {
    matches!(obj, Object::Dictionary(d) if d.get(b"Type").and_then(Object::as_name).is_ok_and(|n| n == name))
}
