//! A real browser against the demo server: headless Chromium opens the demo
//! page (`GET /`) twice, both pages connect to `/chat`, and they exchange
//! messages; the test asserts what each page's `#log` shows and saves a
//! screenshot of each page to `target/browser-test/`.
//!
//! Chromium is driven over the DevTools protocol with `chromiumoxide` (no
//! driver binary). The browser is `$CHROME`, `$CHROMIUM` or
//! `/usr/bin/chromium` (Debian's `chromium` package, installed by
//! `scripts/install-browser.sh`). Without one the test prints why and
//! passes, unless `WS_BROWSER_TEST_REQUIRED=1` (set by CI), where a missing
//! browser fails it. The browser only ever talks to 127.0.0.1: the demo app
//! runs in-process on a port the OS picks.

#[allow(dead_code)]
#[path = "../../ws-app/examples/demo/app.rs"]
mod demo_app;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::input::InsertTextParams;
use chromiumoxide::page::{Page, ScreenshotParams};
use futures_util::StreamExt;

/// The whole scenario, browser start included, must finish within this.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(120);
/// One wait for something to show up on a page.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// One CDP request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

type Res<T> = Result<T, String>;

/// The browser to run: `$CHROME` or `$CHROMIUM` when set (and then only
/// that one), else `/usr/bin/chromium`; `None` when it is not there.
fn find_browser() -> Option<PathBuf> {
    for var in ["CHROME", "CHROMIUM"] {
        if let Some(path) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            let path = PathBuf::from(path);
            if path.is_file() {
                return Some(path);
            }
            eprintln!("${var} = {} is not a file", path.display());
            return None;
        }
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
}

fn browser_required() -> bool {
    std::env::var("WS_BROWSER_TEST_REQUIRED").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `target/browser-test/` of the workspace (or of `$CARGO_TARGET_DIR`).
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
            manifest.parent().unwrap_or(manifest).join("target")
        },
        PathBuf::from,
    );
    target.join("browser-test")
}

/// A fresh, empty user-data dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Res<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("ws-browser-test-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bounds one browser request.
async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    fut: impl Future<Output = Result<T, E>>,
) -> Res<T> {
    match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {REQUEST_TIMEOUT:?}")),
    }
}

/// Evaluates a JS expression on `page` and deserializes its value.
async fn eval<T: serde::de::DeserializeOwned>(page: &Page, js: &str) -> Res<T> {
    let result = bounded(js, page.evaluate(js)).await?;
    result
        .into_value()
        .map_err(|e| format!("{js}: unexpected value: {e}"))
}

/// A page's `#log`: `(kind, text)` per `div.entry`, kind being in/out/sys.
async fn log_of(page: &Page) -> Res<Vec<(String, String)>> {
    eval(
        page,
        r##"Array.from(document.querySelectorAll("#log .entry")).map(e =>
            [["in", "out", "sys"].find(k => e.classList.contains(k)) || "", e.textContent])"##,
    )
    .await
}

/// Polls `page` until `check` finds what it wants in the log (or the page
/// state), failing after [`WAIT_TIMEOUT`] with the log in the message.
async fn wait_for<T>(
    page: &Page,
    name: &str,
    what: &str,
    mut check: impl FnMut(&[(String, String)], &str) -> Option<T>,
) -> Res<T> {
    let deadline = Instant::now() + WAIT_TIMEOUT;
    loop {
        let log = log_of(page).await?;
        let state: String = eval(
            page,
            r##"document.querySelector("#status")?.dataset.state ?? """##,
        )
        .await?;
        if let Some(found) = check(&log, &state) {
            return Ok(found);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "page {name}: {what} did not happen within {WAIT_TIMEOUT:?}; \
                 status {state:?}, log {log:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn has(log: &[(String, String)], kind: &str, text: &str) -> bool {
    log.iter().any(|(k, t)| k == kind && t == text)
}

/// Opens the demo page, connects it to `/chat` and returns its connection
/// id (from the `Welcome, <id>!` greeting).
async fn open_chat(browser: &Browser, url: &str, name: &str) -> Res<(Page, String)> {
    let page = bounded("opening a page", browser.new_page(url)).await?;
    // The page is loaded and its script ran once #connect is enabled.
    let endpoint: String = {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            let ready: Option<String> = eval(
                &page,
                r##"(() => { const c = document.querySelector("#connect"),
                              e = document.querySelector("#endpoint");
                            return c && e && !c.disabled ? e.value : null; })()"##,
            )
            .await?;
            if let Some(endpoint) = ready {
                break endpoint;
            }
            if Instant::now() > deadline {
                return Err(format!("page {name}: #connect never became usable"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    if endpoint != "/chat" {
        return Err(format!(
            "page {name}: #endpoint preselects {endpoint:?}, not /chat"
        ));
    }
    bounded("bringing the page to front", page.bring_to_front()).await?;
    let connect = bounded("finding #connect", page.find_element("#connect")).await?;
    bounded("clicking #connect", connect.click()).await?;
    wait_for(&page, name, "#status[data-state=connected]", |_, state| {
        (state == "connected").then_some(())
    })
    .await?;
    let id = wait_for(&page, name, "the /chat greeting", |log, _| {
        log.iter().find_map(|(kind, text)| {
            let id = text.strip_prefix("Welcome, ")?.strip_suffix('!')?;
            (kind == "in" && !id.is_empty()).then(|| id.to_owned())
        })
    })
    .await?;
    Ok((page, id))
}

/// Types `text` into `#message` on `page` and clicks `#send`, like a person
/// (input events, not scripted DOM changes).
async fn send(page: &Page, text: &str) -> Res<()> {
    bounded("bringing the page to front", page.bring_to_front()).await?;
    let input = bounded("finding #message", page.find_element("#message")).await?;
    bounded("clicking #message", input.click()).await?;
    if text.is_ascii() {
        bounded("typing into #message", input.type_str(text)).await?;
    } else {
        // Key events exist for ASCII only; the rest comes in as an IME would.
        bounded(
            "inserting text into #message",
            page.execute(InsertTextParams::new(text)),
        )
        .await?;
    }
    let typed: String = eval(page, r##"document.querySelector("#message").value"##).await?;
    if typed != text {
        return Err(format!("#message holds {typed:?} after typing {text:?}"));
    }
    let button = bounded("finding #send", page.find_element("#send")).await?;
    bounded("clicking #send", button.click()).await?;
    Ok(())
}

/// `from` says `text`; both pages must show it, and `from` its receipt.
async fn exchange(
    (from, from_name, from_id): (&Page, &str, &str),
    (to, to_name): (&Page, &str),
    text: &str,
) -> Res<()> {
    let receipts = |log: &[(String, String)]| {
        log.iter()
            .filter(|(k, t)| k == "in" && t == "Your message was sent")
            .count()
    };
    let receipts_before = receipts(&log_of(to).await?);
    send(from, text).await?;
    let line = format!("User {from_id}: {text}");
    wait_for(to, to_name, &format!("receiving {line:?}"), |log, _| {
        has(log, "in", &line).then_some(())
    })
    .await?;
    wait_for(
        from,
        from_name,
        &format!("its own {text:?} sent, echoed and acknowledged"),
        |log, _| {
            let out = log.iter().position(|(k, t)| k == "out" && t == text)?;
            let echo = log.iter().position(|(k, t)| k == "in" && *t == line)?;
            let ack = log
                .iter()
                .skip(echo)
                .position(|(k, t)| k == "in" && t == "Your message was sent")?;
            (out < echo && ack > 0).then_some(())
        },
    )
    .await?;
    // The receiving page got the line once, and no receipt for it.
    let log = log_of(to).await?;
    let copies = log.iter().filter(|(k, t)| k == "in" && *t == line).count();
    if copies != 1 || receipts(&log) != receipts_before {
        return Err(format!(
            "page {to_name} shows {line:?} {copies} times, or a receipt for it: {log:?}"
        ));
    }
    Ok(())
}

async fn chat_scenario(browser: &Browser, url: &str) -> Res<Vec<PathBuf>> {
    let (page_a, id_a) = open_chat(browser, url, "A").await?;
    let (page_b, id_b) = open_chat(browser, url, "B").await?;
    if id_a == id_b {
        return Err(format!("both pages got the same connection id {id_a}"));
    }

    exchange((&page_a, "A", &id_a), (&page_b, "B"), "hello from A").await?;
    exchange(
        (&page_b, "B", &id_b),
        (&page_a, "A"),
        "and hi from B, über ✓",
    )
    .await?;

    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut shots = Vec::new();
    for (page, name) in [(&page_a, "a"), (&page_b, "b")] {
        let path = dir.join(format!("chat-page-{name}.png"));
        let params = ScreenshotParams::builder().full_page(true).build();
        let png = bounded("taking a screenshot", page.save_screenshot(params, &path)).await?;
        if !png.starts_with(b"\x89PNG") {
            return Err(format!("{} is not a PNG", path.display()));
        }
        shots.push(path);
    }
    Ok(shots)
}

/// Launches the browser, runs the scenario, and always shuts the browser
/// down (close, then kill) before reporting.
async fn run(executable: &Path, url: &str) -> Res<Vec<PathBuf>> {
    let profile = TempDir::new()?;
    let config = BrowserConfig::builder()
        .chrome_executable(executable)
        .user_data_dir(&profile.0)
        // Only our flags, plus what chromiumoxide always adds: `--headless`
        // (its default mode), `--hide-scrollbars`, `--mute-audio`,
        // `--disable-extensions`, `--remote-debugging-port=0`,
        // `--user-data-dir` and `--window-size`.
        .disable_default_args()
        .launch_timeout(Duration::from_secs(60))
        .request_timeout(REQUEST_TIMEOUT)
        .window_size(1000, 800)
        // Keys without the leading `--`: chromiumoxide adds it.
        .args([
            "no-sandbox",
            "disable-gpu",
            "disable-dev-shm-usage",
            "disable-background-networking",
            "disable-component-update",
            "disable-sync",
            "disable-quic",
            "disable-default-apps",
            "no-first-run",
            "no-default-browser-check",
        ])
        // Anything not on the loopback goes to a dead proxy: the test never
        // reaches the network.
        .arg(("proxy-server", "http://127.0.0.1:9"))
        .build()?;
    let (mut browser, mut handler) = Browser::launch(config)
        .await
        .map_err(|e| format!("launching {}: {e}", executable.display()))?;
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });

    let outcome = match tokio::time::timeout(SCENARIO_TIMEOUT, chat_scenario(&browser, url)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("the scenario took over {SCENARIO_TIMEOUT:?}")),
    };

    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        browser.close().await.ok()?;
        browser.wait().await.ok()
    })
    .await;
    if !matches!(closed, Ok(Some(_))) {
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            let _ = browser.kill().await;
            let _ = browser.wait().await;
        })
        .await;
    }
    events.abort();
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_chat_through_the_demo() {
    let Some(executable) = find_browser() else {
        assert!(
            !browser_required(),
            "WS_BROWSER_TEST_REQUIRED is set but no chromium was found \
             (looked at $CHROME, $CHROMIUM, /usr/bin/chromium); run scripts/install-browser.sh"
        );
        eprintln!("browser test skipped: no chromium found; install Debian's chromium package");
        return;
    };

    let server = ws_app::Server::<ws_app::rt::Tokio>::bind(demo_app::build(true), "127.0.0.1:0")
        .await
        .expect("binding the demo app");
    let url = format!("http://{}/", server.local_addr());
    let handle = server.handle();
    let serving = tokio::spawn(server.run());

    let started = Instant::now();
    let outcome = run(&executable, &url).await;
    handle.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(10), serving).await;

    match outcome {
        Ok(shots) => eprintln!(
            "browser chat test passed in {:.1?} with {}; screenshots: {}",
            started.elapsed(),
            executable.display(),
            shots
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(e) => panic!("browser chat test failed: {e}"),
    }
}
