//! The examples each command's `--help` ends with (and its man page section), kept here so
//! they read as one set: the same file names, keys and URLs from command to command.

pub const VERIFY: &str = "Examples:
  reprove verify hello-1.2.0.tar.gz --policy policy.toml
  reprove verify hello-1.2.0.tar.gz --release hello@1.2.0 --json
  reprove verify --digest sha256:<64 hex> --policy policy.toml
  reprove verify hello-1.2.0.tar.gz --bundle hello.bundle --policy policy.toml   # offline";

pub const GATE: &str = "Examples:
  reprove gate hello@1.2.0 --policy policy.toml
  reprove gate hello@1.2.0 --policy policy.toml --wait 15m --interval 30s";

pub const BUNDLE: &str = "Examples:
  reprove bundle hello@1.2.0 --policy policy.toml -o hello.bundle";

pub const RELEASE_PUBLISH: &str = "Examples:
  reprove release publish reprove.toml --key publisher.key --ledger https://log.example.org \\
    --log-key-file log.pub --artifact-url-prefix https://downloads.example.org/hello/
  reprove release publish reprove.toml --key publisher.key --dry-run";

pub const IMPORT_PYPI: &str = "Examples:
  reprove import pypi tomli==2.2.1 --key importer.key --ledger https://log.example.org \\
    --log-key-file log.pub
  reprove import pypi tomli==2.2.1 --index http://127.0.0.1:8000/simple --key importer.key --dry-run
  reprove rebuild --release tomli@2.2.1 --key rebuilder.key --ledger https://log.example.org \\
    --log-key-file log.pub --submit                       # then rebuild what was imported";

pub const IMPORT_CRATE: &str = "Examples:
  reprove import crate fortune@0.2.0 --key importer.key --ledger https://log.example.org \\
    --log-key-file log.pub
  reprove import crate fortune@0.2.0 --registry http://127.0.0.1:8000/index --key importer.key --dry-run
  reprove rebuild --release fortune@0.2.0 --key rebuilder.key --ledger https://log.example.org \\
    --log-key-file log.pub --submit                       # every rebuilder names the bytes it built
  reprove verify ./fortune --release fortune@0.2.0        # trusted when enough operators agree";
pub const IMPORT_DEBIAN: &str = "Examples:
  reprove import debian tree=2.1.0-1 --key importer.key --ledger https://log.example.org \\
    --log-key-file log.pub
  reprove import debian hello=2.10-3 --buildinfo hello_2.10-3_amd64.buildinfo --key importer.key --dry-run
  reprove rebuild --release tree@2.1.0-1 --key rebuilder.key --ledger https://log.example.org \\
    --log-key-file log.pub --submit                       # then rebuild what was imported";

pub const REBUILD: &str = "Examples:
  reprove rebuild --manifest reprove.toml --out dist          # a local build, nothing logged
  reprove rebuild --manifest reprove.toml --variations        # what makes the build unreproducible
  reprove rebuild --release hello@1.2.0 --key rebuilder.key --ledger https://log.example.org \\
    --log-key-file log.pub --submit";

pub const REBUILDER_RUN: &str = "Examples:
  reprove rebuilder run --ledger https://log.example.org --log-key-file log.pub \\
    --key rebuilder.key --work /var/lib/reprove --build-user reprove-build --jobs 2";

pub const KEY_GENERATE: &str = "Examples:
  reprove key generate --name rebuilder.example.org --out keys/";

pub const KEY_REVOKE: &str = "Examples:
  reprove key revoke --key rebuilder.key --reason retired --ledger https://log.example.org
  reprove key revoke --key old.pub --reason compromised --recovery-key recovery.key --yes";

pub const LEDGER_INIT: &str = "Examples:
  reprove ledger init --data /var/lib/reprove-log --origin log.example.org";

pub const LEDGER_SERVE: &str = "Examples:
  reprove ledger serve --data /var/lib/reprove-log --listen 127.0.0.1:8080";

pub const LEDGER_FSCK: &str = "Examples:
  reprove ledger fsck --data /var/lib/reprove-log --json";

pub const LEDGER_AUDIT: &str = "Examples:
  reprove ledger audit --ledger https://log.example.org --log-key-file log.pub --dsse";

pub const LEDGER_EXPORT: &str = "Examples:
  reprove ledger export --data /var/lib/reprove-log --out /srv/www/log";

pub const INIT: &str = "Examples:
  reprove init                              # reprove.toml for the project in this directory
  reprove init --dir ../hello --project hello";

pub const POLICY_INIT: &str = "Examples:
  reprove policy init --ledger https://log.example.org --log-key-file log.pub \\
    --operator alice=<vkey> --operator bob=<vkey> --threshold 2";

pub const DEMO: &str = "Examples:
  reprove demo --exit
  reprove demo --data /tmp/reprove-demo        # keeps the ledger running until Ctrl-C";

pub const LOG_SHOW: &str = "Examples:
  reprove log show hello@1.2.0 --policy policy.toml";

pub const LOG_TAIL: &str = "Examples:
  reprove log tail -n 20 --policy policy.toml --json";

pub const COMPLETIONS: &str = "Examples:
  reprove completions bash > /etc/bash_completion.d/reprove";

pub const RELEASE_PLAN: &str = "Examples:
  reprove release plan hello@1.2.0 --key publisher.key --ledger https://log.example.org
  # then bake https://log.example.org/dl/hello/1.2.0/<file> into the installer you build";

pub const RELEASE_UPLOAD: &str = "Examples:
  reprove release upload hello@1.2.0 dist/hello-1.2.0.tar.gz dist/hello-1.2.0-linux-x86_64 \\
    --key publisher.key --ledger https://log.example.org";

pub const RELEASE_ANNOUNCE: &str = "Examples:
  reprove release announce hello@1.2.0 --key publisher.key --policy policy.toml --wait 1h
  reprove release announce hello@1.2.1 --key publisher.key --policy policy.toml \\
    --unverified --reason \"fixes CVE-2026-1234; rebuilders will follow\"";

pub const RELEASE_WITHDRAW: &str = "Examples:
  reprove release withdraw hello@1.3.0 --reason \"rebuilders disagree with the binary\" \\
    --key publisher.key --ledger https://log.example.org";

pub const RELEASE_YANK: &str = "Examples:
  reprove release yank hello@1.2.0 --reason \"corrupts data on upgrade\" --replacement 1.2.1 \\
    --key publisher.key --ledger https://log.example.org";

pub const RELEASE_INSTALLER: &str = "Examples:
  reprove release installer hello@1.2.0 -o install.sh --ledger https://log.example.org \\
    --log-key-file log.pub
  curl -fsSL https://example.org/install.sh | INSTALL_DIR=$HOME/.local/bin sh";

pub const LATEST: &str = "Examples:
  reprove latest hello --policy policy.toml
  reprove latest hello --policy policy.toml --json";
