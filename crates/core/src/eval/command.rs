//! command: the last-resort check. The program runs by argv, never through a shell.

use crate::rule::CommandCheck;

use super::{Context, Outcome};

pub fn evaluate(c: &CommandCheck, ctx: &Context<'_>) -> Outcome {
    let argv: Vec<&str> = c.argv.iter().map(String::as_str).collect();
    let out = match ctx.facts.command(&argv) {
        Ok(o) => o,
        Err(e) => return Outcome::error(e),
    };
    let shown = argv.join(" ");
    if out.not_found() && c.expect_exit != Some(127) {
        return Outcome::fail(format!("`{}` is not installed", argv[0]));
    }
    let mut expected = Vec::new();
    let mut problems = Vec::new();
    if let Some(code) = c.expect_exit {
        expected.push(format!("exit {code}"));
        if out.exit_code != code {
            problems.push(format!("exited {}", out.exit_code));
        }
    }
    if let Some(p) = &c.expect_stdout {
        expected.push(format!("stdout matching /{}/", p.source));
        if !p.regex.is_match(&out.stdout) {
            problems.push("stdout does not match".to_owned());
        }
    }
    let ev =
        ctx.evidence("command", &shown, expected.join(", "), format!("exit {}", out.exit_code), &out.stdout);
    Outcome::judge(
        problems.is_empty(),
        format!("`{shown}` met {}", expected.join(", ")),
        format!("`{shown}` {}", problems.join(", ")),
    )
    .with(ev)
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use crate::testkit::Fixture;

    #[test]
    fn exit_and_stdout() {
        let f = Fixture::new()
            .command(&["aa-status", "--enabled"], 0, "")
            .command(&["ufw", "status"], 0, "Status: active\n")
            .command(&["nope"], 127, "");
        f.expect("command: {argv: [aa-status, --enabled], expect_exit: 0}", Status::Pass);
        f.expect("command: {argv: [ufw, status], expect_stdout: '^Status: active'}", Status::Pass);
        f.expect("command: {argv: [ufw, status], expect_stdout: 'inactive'}", Status::Fail);
        f.expect("command: {argv: [nope], expect_exit: 0}", Status::Fail);
        Fixture::new().expect("command: {argv: [x], expect_exit: 0}", Status::Error);
    }

    #[test]
    fn sensitive_output_is_withheld() {
        let f = Fixture::new().command(&["vault", "status"], 0, "token: s.abc123\n").sensitive();
        let out = f.expect_hidden(
            "command: {argv: [vault, status], expect_stdout: 'token'}",
            Status::Pass,
            "s.abc123",
        );
        assert_eq!(out.evidence[0].observed, "[withheld: 1 line]");
    }
}
