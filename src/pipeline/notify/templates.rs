//! The email templates of `templates/`, compiled into the binary (a Lambda has no template
//! folder). `.html` templates are HTML-escaped automatically; `.txt` ones are not. A variable
//! a template names but the context lacks is an error, not an empty string.

use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::domain::account::Locale;

macro_rules! templates {
    ($($name:literal),+ $(,)?) => {
        &[$(($name, include_str!(concat!("../../../templates/", $name)))),+]
    };
}

const SOURCES: &[(&str, &str)] = templates![
    "fr/layout.html",
    "fr/transaction.subject.txt",
    "fr/transaction.html",
    "fr/transaction.txt",
    "fr/welcome.subject.txt",
    "fr/welcome.html",
    "fr/welcome.txt",
    "fr/statement.subject.txt",
    "fr/statement.html",
    "fr/statement.txt",
    "fr/address_changed.subject.txt",
    "fr/address_changed.html",
    "fr/address_changed.txt",
    "fr/address_confirmed.subject.txt",
    "fr/address_confirmed.html",
    "fr/address_confirmed.txt",
    "fr/account_closed.subject.txt",
    "fr/account_closed.html",
    "fr/account_closed.txt",
    "fr/account_frozen.subject.txt",
    "fr/account_frozen.html",
    "fr/account_frozen.txt",
    "fr/unsubscribe_page.html",
    "en/layout.html",
    "en/transaction.subject.txt",
    "en/transaction.html",
    "en/transaction.txt",
    "en/welcome.subject.txt",
    "en/welcome.html",
    "en/welcome.txt",
    "en/statement.subject.txt",
    "en/statement.html",
    "en/statement.txt",
    "en/address_changed.subject.txt",
    "en/address_changed.html",
    "en/address_changed.txt",
    "en/address_confirmed.subject.txt",
    "en/address_confirmed.html",
    "en/address_confirmed.txt",
    "en/account_closed.subject.txt",
    "en/account_closed.html",
    "en/account_closed.txt",
    "en/account_frozen.subject.txt",
    "en/account_frozen.html",
    "en/account_frozen.txt",
    "en/unsubscribe_page.html",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line: every run of white space (line breaks included) is one space, and control
    /// characters are dropped.
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
#[error("template {template}: {message}")]
pub struct RenderError {
    pub template: String,
    pub message: String,
}

/// A subject is one line, and a merchant name may hold line breaks or control characters:
/// runs of ASCII white space and line separators become one space, control characters go.
/// No-break spaces stay (money is written with them).
fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_ascii_whitespace() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}') {
            pending_space = !line.is_empty();
        } else if !c.is_control() {
            if pending_space {
                line.push(' ');
                pending_space = false;
            }
            line.push(c);
        }
    }
    line
}

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn builtin() -> &'static Templates {
        static TEMPLATES: OnceLock<Templates> = OnceLock::new();
        TEMPLATES.get_or_init(|| {
            let mut env = Environment::new();
            env.set_undefined_behavior(UndefinedBehavior::Strict);
            for (name, source) in SOURCES {
                // The sources are part of the binary and checked by the tests.
                env.add_template(name, source)
                    .unwrap_or_else(|e| panic!("built-in template {name} does not compile: {e}"));
            }
            Templates { env }
        })
    }

    fn render_one(&self, name: &str, context: &minijinja::Value) -> Result<String, RenderError> {
        let error = |message: String| RenderError {
            template: name.to_string(),
            message,
        };
        let template = self.env.get_template(name).map_err(|e| error(e.to_string()))?;
        template.render(context).map_err(|e| error(format!("{e:#}")))
    }

    /// Renders the subject, then the HTML and text parts, which may show the subject.
    pub fn render(&self, family: &str, locale: Locale, context: &impl Serialize) -> Result<Rendered, RenderError> {
        let base = minijinja::Value::from(minijinja::value::Serde(context));
        let subject = self.render_one(&format!("{locale}/{family}.subject.txt"), &base)?;
        let subject = one_line(&subject);
        let with_subject = minijinja::context! { subject => &subject, ..base };
        Ok(Rendered {
            html: self.render_one(&format!("{locale}/{family}.html"), &with_subject)?,
            text: self.render_one(&format!("{locale}/{family}.txt"), &with_subject)?,
            subject,
        })
    }
}

impl Templates {
    /// The page of `GET` and `POST /v1/unsubscribe/{token}`: `state` is `confirm` (a button
    /// that POSTs), `done` or `already`.
    pub fn unsubscribe_page(&self, locale: Locale, state: &str, account: &str) -> Result<String, RenderError> {
        self.render_one(
            &format!("{locale}/unsubscribe_page.html"),
            &minijinja::context! { state => state, account => account },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn subjects_are_one_line_and_keep_no_break_spaces() {
        assert_eq!(
            one_line("  Paiement de 1\u{202F}234,56\u{A0}€\r\nBcc: x@y\u{2028}z \u{0}\t"),
            "Paiement de 1\u{202F}234,56\u{A0}€ Bcc: x@y z"
        );
        assert_eq!(one_line(""), "");
    }
}
