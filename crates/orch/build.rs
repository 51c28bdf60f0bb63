//! Embeds the repository's `skills/` and `hooks/` trees in the library, so
//! an installed `orch-up` needs no checkout of the repository.
//!
//! Generates `$OUT_DIR/assets.rs` with two tables of `(relative path,
//! bytes)`, sorted by path so builds are reproducible.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for entry in rd.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        // Editor droppings and VCS files are not assets.
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            walk(root, &path, out);
        } else if ft.is_file() {
            let rel = path
                .strip_prefix(root)
                .expect("walked path is under its root")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, path));
        }
    }
}

fn table(name: &str, dir: &Path, code: &mut String) {
    let mut files = Vec::new();
    if dir.is_dir() {
        // A directory path makes cargo rescan the whole tree for changes.
        println!("cargo:rerun-if-changed={}", dir.display());
        walk(dir, dir, &mut files);
    }
    files.sort();
    code.push_str(&format!("pub static {name}: &[Asset] = &[\n"));
    for (rel, path) in files {
        let abs = fs::canonicalize(&path).expect("asset path resolves");
        code.push_str(&format!(
            "    Asset {{ path: {rel:?}, data: include_bytes!({:?}) }},\n",
            abs.to_string_lossy()
        ));
    }
    code.push_str("];\n");
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let repo = manifest.join("../..");
    let mut code = String::new();
    table("SKILLS", &repo.join("skills"), &mut code);
    table("HOOKS", &repo.join("hooks"), &mut code);
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("assets.rs");
    let mut f = fs::File::create(out).unwrap();
    f.write_all(code.as_bytes()).unwrap();
}
