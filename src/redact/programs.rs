//! Rule 4's data: which programs take a password from which flags.

use std::sync::OnceLock;

/// How a flag carries its value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// `-pSECRET` only (`-p value` means something else).
    Attached,
    /// `-p value` only.
    Separate,
    Both,
}

/// What a flag's value is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// The value is the secret.
    Whole,
    /// The secret follows this byte: `user:secret`, `user%secret`.
    After(u8),
    /// `name=value; name=value` (or a cookie file name).
    Cookies,
    /// Not a secret here (a port, a PID): known so rule 4's `-p` guess stays off.
    Plain,
}

pub(super) struct Flag {
    pub(super) word: &'static str,
    pub(super) form: Form,
    pub(super) kind: Kind,
    /// Only after this subcommand (`docker login -p`, not `docker run -p`).
    pub(super) after: Option<&'static str>,
}

pub(super) const fn flag(word: &'static str, form: Form, kind: Kind) -> Flag {
    Flag {
        word,
        form,
        kind,
        after: None,
    }
}

pub(super) const fn after(sub: &'static str, word: &'static str, form: Form, kind: Kind) -> Flag {
    Flag {
        word,
        form,
        kind,
        after: Some(sub),
    }
}

/// A password given as an operand: the last operand of the command, once
/// `trigger` appeared and at least `min` operands followed it.
pub(super) struct Positional {
    pub(super) trigger: Trigger,
    pub(super) min: usize,
}

pub(super) enum Trigger {
    /// One of these subcommands (`rabbitmqctl add_user u PASSWORD`).
    Word(&'static [&'static str]),
    /// This letter in a short-option cluster (`htpasswd -bc file u PASSWORD`).
    Letter(u8),
    /// Always (`wpa_passphrase ssid PASSPHRASE`).
    Always,
}

pub(super) struct Program {
    pub(super) names: &'static [&'static str],
    pub(super) flags: &'static [Flag],
    pub(super) positional: Option<Positional>,
    /// Operands `user/password@db` (Oracle tools).
    pub(super) logon: bool,
    /// `tool config set <secret name> <value>`: a bare secret name takes the
    /// next word.
    pub(super) settings: bool,
}

pub(super) const fn positional(trigger: Trigger, min: usize) -> Option<Positional> {
    Some(Positional { trigger, min })
}

pub(super) const fn program(names: &'static [&'static str], flags: &'static [Flag]) -> Program {
    Program {
        names,
        flags,
        positional: None,
        logon: false,
        settings: false,
    }
}

pub(super) use Form::{Attached, Both, Separate};
pub(super) use Kind::{After, Cookies, Plain, Whole};

/// Programs whose flags carry secrets, or whose `-p` is something else.
/// From each tool's manual: the flag, how its value is given, what it is.
#[rustfmt::skip]
pub(super) static PROGRAMS: &[Program] = &[
    // `-p value` would be a database name: the password must be attached.
    program(&["mysql", "mysqldump", "mysqlimport", "mysqlshow", "mysqlcheck", "mysqlpump",
              "mysqlbinlog", "mysqlslap", "mysqlsh", "mysql_upgrade", "mariadb", "mariadb-dump",
              "mariadb-import", "mariadb-check", "mariadb-show", "mariadb-binlog",
              "mariadb-slap", "mariadb-upgrade"],
            &[flag("-p", Attached, Whole)]),
    // `mysqladmin -u root password NEW`.
    program(&["mysqladmin", "mariadb-admin"],
            &[flag("-p", Attached, Whole), flag("password", Separate, Whole)]),
    program(&["mydumper", "myloader", "sshpass", "rdesktop", "useradd", "usermod", "mongo",
              "mongosh", "mongodump", "mongorestore", "mongoexport", "mongoimport", "mongostat",
              "mongotop", "mongofiles", "cqlsh", "cypher-shell", "smbmap", "enum4linux", "ncftp",
              "ncftpget", "ncftpput", "ncftpls", "hdbsql"],
            &[flag("-p", Both, Whole)]),
    program(&["crackmapexec", "nxc", "netexec"],
            &[flag("-p", Both, Whole), flag("-H", Both, Whole)]),
    // Registry and cluster logins; elsewhere `-p` publishes a port.
    program(&["docker", "podman", "nerdctl", "buildah", "skopeo", "helm", "oras", "crane",
              "finch", "az", "oc", "cf"],
            &[after("login", "-p", Both, Whole), flag("-p", Both, Plain)]),
    program(&["ldapsearch", "ldapmodify", "ldapadd", "ldapdelete", "ldapwhoami", "ldapcompare",
              "ldapmodrdn", "ldapexop", "ldapurl"],
            &[flag("-w", Both, Whole)]),
    program(&["ldappasswd"],
            &[flag("-w", Both, Whole), flag("-s", Both, Whole), flag("-a", Both, Whole)]),
    program(&["keytool", "jarsigner"], &[flag("-new", Separate, Whole)]),
    program(&["7z", "7za", "7zr", "7zz", "rar", "unrar"], &[flag("-p", Attached, Whole)]),
    program(&["zip", "unzip", "zipcloak"], &[flag("-P", Both, Whole)]),
    program(&["sqlcmd", "bcp", "osql", "isql", "tsql", "sqsh", "fisql"],
            &[flag("-P", Both, Whole)]),
    program(&["mosquitto_pub", "mosquitto_sub", "mosquitto_rr"],
            &[flag("-P", Both, Whole), flag("-p", Both, Plain)]),
    program(&["ipmitool"],
            &[flag("-P", Both, Whole), flag("-y", Separate, Whole), flag("-k", Separate, Whole),
              flag("-p", Both, Plain)]),
    program(&["redis-cli", "redis-benchmark", "keydb-cli", "valkey-cli"],
            &[flag("-a", Separate, Whole), flag("-p", Both, Plain)]),
    program(&["plink", "pscp", "psftp"],
            &[flag("-pw", Separate, Whole), flag("-P", Both, Plain)]),
    program(&["xfreerdp", "xfreerdp3", "wlfreerdp", "wlfreerdp3", "sdl-freerdp", "sdl-freerdp3"],
            &[flag("/p:", Attached, Whole), flag("/password:", Attached, Whole),
              flag("/gp:", Attached, Whole), flag("/pth:", Attached, Whole)]),
    program(&["curl"],
            &[flag("-u", Both, After(b':')), flag("--user", Separate, After(b':')),
              flag("-U", Both, After(b':')), flag("--proxy-user", Separate, After(b':')),
              flag("-E", Both, After(b':')), flag("--cert", Separate, After(b':')),
              flag("-b", Both, Cookies), flag("--cookie", Separate, Cookies)]),
    program(&["smbclient", "rpcclient", "smbcacls", "smbget", "smbtree", "smbcquotas", "net",
              "winexe"],
            &[flag("-U", Both, After(b'%')), flag("--user", Separate, After(b'%')),
              flag("--username", Separate, After(b'%'))]),
    program(&["lftp"], &[flag("-u", Both, After(b','))]),
    program(&["openssl"], &[flag("-k", Separate, Whole)]),
    program(&["nmcli"],
            &[flag("password", Separate, Whole), flag("wifi-sec.psk", Separate, Whole),
              flag("802-1x.password", Separate, Whole), flag("wifi-sec.wep-key0", Separate, Whole)]),
    // Where `-p` (or `-P`) is a port, a PID or a preserve switch.
    program(&["ssh", "autossh", "psql", "pg_dump", "pg_dumpall", "pg_restore", "pg_basebackup",
              "pgbench", "createdb", "dropdb", "createuser", "dropuser", "vacuumdb", "reindexdb",
              "clusterdb", "pg_isready", "nc", "ncat", "netcat", "nmap", "iperf", "iperf3", "ps",
              "top", "pidstat", "strace", "ltrace", "gdb", "perf", "lsof", "pmap", "prlimit",
              "taskset", "mkdir", "cp", "install", "rsync", "tar", "patch", "unshare", "nsenter",
              "memcached", "agetty"],
            &[flag("-p", Both, Plain)]),
    program(&["scp", "sftp"], &[flag("-P", Both, Plain), flag("-p", Both, Plain)]),
    // Passwords as operands: the last one, after a trigger.
    Program { positional: positional(Trigger::Letter(b'b'), 2), ..program(&["htpasswd"], &[]) },
    Program {
        positional: positional(Trigger::Word(&["add_user", "change_password", "authenticate_user"]), 2),
        ..program(&["rabbitmqctl"], &[])
    },
    // MinIO: `mc alias set NAME URL ACCESS_KEY SECRET_KEY`.
    Program { positional: positional(Trigger::Word(&["set", "add"]), 4), ..program(&["mc"], &[]) },
    Program { positional: positional(Trigger::Always, 2), ..program(&["wpa_passphrase"], &[]) },
    Program {
        logon: true,
        ..program(&["sqlplus", "rman", "expdp", "impdp", "exp", "imp", "sqlldr", "dgmgrl", "sql"], &[])
    },
    Program {
        settings: true,
        ..program(&["aws", "git", "npm", "yarn", "pnpm", "pip", "pip3", "poetry", "composer",
                    "conda"], &[])
    },
];

/// Program names, sorted for lookup.
pub(super) fn program_index() -> &'static [(&'static [u8], &'static Program)] {
    static INDEX: OnceLock<Vec<(&'static [u8], &'static Program)>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: Vec<_> = PROGRAMS
            .iter()
            .flat_map(|p| p.names.iter().map(move |n| (n.as_bytes(), p)))
            .collect();
        index.sort_unstable_by_key(|(n, _)| *n);
        index
    })
}

/// The program a word runs: its base name, without `.exe`.
pub(super) fn lookup_program(word: &[u8]) -> Option<&'static Program> {
    let base = word.rsplit(|&c| c == b'/').next().unwrap_or(word);
    let base = base.strip_suffix(b".exe").unwrap_or(base);
    let index = program_index();
    index
        .binary_search_by_key(&base, |(n, _)| n)
        .ok()
        .map(|k| index[k].1)
}
