//! Rule diagnostics a first-time author meets: each names the one thing to fix, where it is.

use std::path::Path;

use tripline_lang::{compile, Diagnostic, Options};

fn diagnostics(name: &str, text: &str) -> Vec<Diagnostic> {
    compile(Path::new(name), text, &Options::default()).diagnostics
}

#[test]
fn a_condition_naming_an_undefined_selection_is_one_error_and_no_unused_warning() {
    for (name, text) in [
        ("sigma.yml", "title: T\nid: 7d3c1a52-0a4e-4f55-9d1c-2b8e6f0a9c11\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  stopped:\n    eventName: StopLogging\n  failed:\n    errorCode|exists: true\n  condition: stoped and not failed\nlevel: low\n"),
        ("native.yml", "id: t\ntitle: T\nseverity: low\ndetection:\n  stopped:\n    eventName: StopLogging\n  failed:\n    errorCode|exists: true\n  condition: stoped and not failed\n"),
    ] {
        let found = diagnostics(name, text);
        assert_eq!(found.len(), 1, "{name}: {found:?}");
        assert_eq!(found[0].line, 9, "{name}: {}", found[0]);
        assert!(found[0].message.contains("`stoped`"), "{name}: {}", found[0]);
    }
}

#[test]
fn a_tab_in_indentation_is_reported_at_the_tab() {
    let text = "id: t\ntitle: T\nseverity: low\ndetection:\n  sel:\n  \teventName: StopLogging\n  condition: sel\n";
    let found = diagnostics("tab.yml", text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].line, found[0].column), (6, 3), "{}", found[0]);
    assert!(found[0].message.contains("a tab in indentation"), "{}", found[0]);
}
