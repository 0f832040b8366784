//! Writing to the terminal. Output errors (a closed pipe: `kiln inspect | head`) are ignored
//! rather than turned into a panic.

use std::io::Write;

pub struct Ui {
    /// Invoked as `packer`: print Packer's names and version.
    pub packer_mode: bool,
    /// `-machine-readable` was given.
    pub machine_readable: bool,
}

impl Ui {
    pub fn new(packer_mode: bool) -> Ui {
        Ui { packer_mode, machine_readable: false }
    }

    /// The program name used in help texts.
    pub fn program(&self) -> &'static str {
        if self.packer_mode {
            "packer"
        } else {
            "kiln"
        }
    }

    pub fn out(&mut self, s: &str) {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(s.as_bytes());
        let _ = o.flush();
    }

    pub fn err(&mut self, s: &str) {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(s.as_bytes());
        let _ = e.flush();
    }

    /// One line of Packer's machine-readable CSV: `timestamp,target,type,data...`, with commas
    /// in data escaped as `%!(PACKER_COMMA)` and newlines as `\n`, as Packer does.
    pub fn machine(&mut self, target: &str, kind: &str, data: &[&str]) {
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let data: Vec<String> =
            data.iter().map(|d| d.replace(',', "%!(PACKER_COMMA)").replace('\r', "\\r").replace('\n', "\\n")).collect();
        self.out(&format!("{ts},{target},{kind},{}\n", data.join(",")));
    }
}
