//! The keychain against a real Secret Service: gnome-keyring-daemon in a private D-Bus session
//! (`dbus-run-session`), unlocked with a test password, its keyrings in a temporary home. Each test starts
//! itself again inside that session (the parent only sets it up), so `cargo test -p quire-keys` is all it
//! takes. Without `dbus-run-session` or `gnome-keyring-daemon` (scripts/setup.sh installs both) the tests
//! say loudly that they were skipped.

use std::path::Path;
use std::process::Command;

use quire_core::settings::RemoteEndpoint;
use quire_keys::{KeyError, Keychain, account};

const INSIDE: &str = "QUIRE_KEYS_TEST_INSIDE";

fn have(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// Runs the test `name` of this binary again with `env`, inside a private D-Bus session with an unlocked
/// gnome-keyring when `secret_service`; returns false when the tools are missing.
fn run_inside(name: &str, secret_service: bool, env: &[(&str, &str)]) -> bool {
    let home = tempfile::tempdir().expect("tempdir");
    let run = home.path().join("run");
    std::fs::create_dir_all(&run).expect("mkdir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    let exe = std::env::current_exe().expect("exe");
    let mut command = if secret_service {
        for program in ["dbus-run-session", "gnome-keyring-daemon"] {
            if !have(program) {
                eprintln!(
                    "\n!!!!! SKIPPED {name}: `{program}` is not installed, so no Secret Service can be started \
                     (scripts/setup.sh installs gnome-keyring and dbus-x11) !!!!!\n"
                );
                return false;
            }
        }
        let mut c = Command::new("dbus-run-session");
        c.args([
            "--",
            "sh",
            "-c",
            "echo -n quire-test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null && \
             exec \"$0\" --exact \"$1\" --nocapture --test-threads=1",
        ]);
        c.arg(&exe).arg(name);
        c
    } else {
        let mut c = Command::new(&exe);
        c.args(["--exact", name, "--nocapture", "--test-threads=1"]);
        c
    };
    let dir = |p: &Path| p.display().to_string();
    command
        .env(INSIDE, "1")
        .env("HOME", dir(home.path()))
        .env("XDG_DATA_HOME", dir(&home.path().join("data")))
        .env("XDG_CONFIG_HOME", dir(&home.path().join("config")))
        .env("XDG_RUNTIME_DIR", dir(&run));
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("start the test again");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains("1 passed"), "the test inside the session failed:\n{text}");
    true
}

#[test]
fn keys_are_saved_read_and_deleted_in_the_secret_service() {
    if std::env::var_os(INSIDE).is_none() {
        run_inside("keys_are_saved_read_and_deleted_in_the_secret_service", true, &[]);
        return;
    }
    let keychain = Keychain::new("Quire-test");
    let chat = RemoteEndpoint { base_url: "http://127.0.0.1:8080/v1".into(), model: "m".into() };
    let other = RemoteEndpoint { base_url: "https://example.org".into(), model: "m".into() };
    let a = account("chat", &chat);
    assert_eq!(a, "chat http://127.0.0.1:8080");
    let b = account("chat", &other);

    assert_eq!(keychain.get(&a).expect("get"), None);
    assert!(!keychain.has(&a).expect("has"));
    keychain.set(&a, "sk-first").expect("set");
    keychain.set(&a, " sk-second ").expect("replace");
    assert_eq!(keychain.get(&a).expect("get").as_deref(), Some("sk-second"));
    assert!(keychain.has(&a).expect("has"));
    // A key belongs to one server: another server of the same role has none.
    assert_eq!(keychain.get(&b).expect("get"), None);
    assert!(matches!(keychain.set(&b, "  "), Err(KeyError::Failed(_))));
    assert!(keychain.delete(&a).expect("delete"));
    assert!(!keychain.delete(&a).expect("delete again"));
    assert_eq!(keychain.get(&a).expect("get"), None);
}

#[test]
fn without_a_keychain_the_key_is_refused_in_words_and_kept_nowhere() {
    if std::env::var_os(INSIDE).is_none() {
        // A session bus address where nothing listens: no Secret Service.
        run_inside(
            "without_a_keychain_the_key_is_refused_in_words_and_kept_nowhere",
            false,
            &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/quire-test-bus")],
        );
        return;
    }
    let keychain = Keychain::new("Quire-test");
    let error = keychain.set("chat http://127.0.0.1:8080", "sk-secret").expect_err("saved without a keychain");
    assert_eq!(error.kind(), "no_keychain");
    assert!(error.to_string().starts_with("no keychain is available on this system: the key was not saved"), "{error}");
    assert!(!error.to_string().contains("sk-secret"));
    let home = std::env::var("HOME").expect("home");
    let found = Command::new("grep").args(["-r", "-l", "sk-secret", &home]).output().expect("grep");
    assert!(found.stdout.is_empty(), "the key was written under {home}");
}
