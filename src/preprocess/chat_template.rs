//! Chat templates rendered as transformers renders them (`render_jinja_template`: Jinja with
//! `trim_blocks`, `lstrip_blocks`, loop controls, `raise_exception`, a `tojson` without HTML
//! escaping) on minijinja, the engine Hugging Face's Rust servers use, with Python's string
//! methods from minijinja-contrib. A template comes with the checkpoint, so it is untrusted code:
//! each render is bounded in work and memory (fuel), recursion depth and output size, and every
//! failure is an error naming the template, never a panic.

use crate::error::{Error, Result};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, ErrorKind, State};
use std::io::Write;

/// Bounds on one render.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemplateLimits {
    /// minijinja's fuel: about one unit per instruction and per 64 bytes of values created.
    pub fuel: u64,
    /// Nesting depth of loops, conditions, macro calls and includes.
    pub recursion: usize,
    /// Bytes of rendered text.
    pub max_output_bytes: usize,
}

impl Default for TemplateLimits {
    fn default() -> Self {
        // Published LLaVA templates use a few thousand units for one message (tests measure it);
        // 500k allows long prompts and costs at most ~30 MB of values.
        TemplateLimits { fuel: 500_000, recursion: 100, max_output_bytes: 1 << 20 }
    }
}

/// The special tokens a template may print, as transformers passes them (`bos_token`, ...).
#[derive(Clone, Debug, Default)]
pub struct TemplateTokens {
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
    pub unk_token: Option<String>,
    pub pad_token: Option<String>,
    pub image_token: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ChatTemplate {
    /// The template as given, with `{% generation %}` blocks (assistant-mask markers, which only
    /// transformers' training path reads) turned into plain blocks.
    source: String,
    /// Where it came from, for errors ("chat_template.jinja").
    origin: String,
    limits: TemplateLimits,
}

impl ChatTemplate {
    /// Compiles `source` once so that a syntax error is reported when the model loads.
    pub fn new(source: &str, origin: &str, limits: TemplateLimits) -> Result<Self> {
        let template = ChatTemplate { source: without_generation_tags(source), origin: origin.to_string(), limits };
        let environment = template.environment();
        environment.template_from_str(&template.source).map_err(|e| template.error(e))?;
        Ok(template)
    }

    /// The prompt for one user message holding an image and then `text`, with the assistant's
    /// turn opened (`add_generation_prompt`), as `processor.apply_chat_template` gives it for
    /// `[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]`.
    pub fn render_image_question(&self, text: &str, tokens: &TemplateTokens) -> Result<String> {
        let messages = serde_json::json!([{
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": text}],
        }]);
        let mut context = serde_json::json!({
            "messages": messages,
            "add_generation_prompt": true,
            "tools": null,
            "documents": null,
        });
        for (name, token) in [
            ("bos_token", &tokens.bos_token),
            ("eos_token", &tokens.eos_token),
            ("unk_token", &tokens.unk_token),
            ("pad_token", &tokens.pad_token),
            ("image_token", &tokens.image_token),
        ] {
            if let Some(token) = token {
                context[name] = token.as_str().into();
            }
        }
        self.render(&Value::from(minijinja::value::Serde(context)))
    }

    fn render(&self, context: &Value) -> Result<String> {
        let environment = self.environment();
        let template = environment.template_from_str(&self.source).map_err(|e| self.error(e))?;
        let mut output = BoundedOutput { bytes: Vec::new(), limit: self.limits.max_output_bytes, overflowed: false };
        let rendered = template.render_captured_to(context.clone(), &mut output);
        if output.overflowed {
            return Err(Error::ChatTemplate(format!(
                "{}: the rendered prompt exceeds {} bytes",
                self.origin, self.limits.max_output_bytes
            )));
        }
        rendered.map_err(|e| self.error(e))?;
        String::from_utf8(output.bytes).map_err(|_| Error::Internal("a chat template rendered invalid UTF-8".into()))
    }

    fn environment(&self) -> Environment<'_> {
        let mut environment = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build();
        // The default delimiters always build.
        if let Ok(syntax) = syntax {
            environment.set_syntax(syntax);
        }
        environment.set_fuel(Some(self.limits.fuel));
        environment.set_recursion_limit(self.limits.recursion);
        environment.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        environment.add_function("raise_exception", raise_exception);
        environment.add_filter("tojson", python_tojson);
        environment
    }

    fn error(&self, error: minijinja::Error) -> Error {
        let what = match error.kind() {
            ErrorKind::OutOfFuel => format!("stopped: it needs more work than the limit of {} units", self.limits.fuel),
            ErrorKind::SyntaxError => format!("does not parse: {error}"),
            _ if error.to_string().contains("recursion limit exceeded") => {
                format!("stopped: it nests deeper than {} levels", self.limits.recursion)
            }
            _ => format!("failed to render: {error}"),
        };
        Error::ChatTemplate(format!("{} {what}", self.origin))
    }
}

/// The template's own `raise_exception(message)`: its message becomes the error.
fn raise_exception(message: String) -> std::result::Result<Value, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, format!("the template raised: {message}")))
}

/// transformers' `tojson`: Python's `json.dumps(x, ensure_ascii=False, indent=indent,
/// separators=separators, sort_keys=sort_keys)`, so no HTML escaping and Python's separators.
fn python_tojson(state: &State, value: Value, kwargs: Kwargs) -> std::result::Result<Value, minijinja::Error> {
    let indent: Option<Value> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    let ensure_ascii: Option<bool> = kwargs.get("ensure_ascii")?;
    let separators: Option<Value> = kwargs.get("separators")?;
    kwargs.assert_all_used()?;
    let indent = match indent {
        None => None,
        Some(v) if v.is_none() => None,
        Some(v) => match (v.as_str(), i64::try_from(v.clone())) {
            (Some(text), _) => Some(text.to_string()),
            (None, Ok(n)) => Some(" ".repeat(n.clamp(0, 16) as usize)),
            _ => return Err(minijinja::Error::new(ErrorKind::InvalidOperation, "tojson: indent must be a number")),
        },
    };
    let (item, key) = match separators {
        Some(pair) if !pair.is_none() => {
            let parts: Vec<Value> = pair.try_iter()?.collect();
            match parts.as_slice() {
                [item, key] => (item.to_string(), key.to_string()),
                _ => return Err(minijinja::Error::new(ErrorKind::InvalidOperation, "tojson: separators is a pair")),
            }
        }
        _ if indent.is_some() => (",".to_string(), ": ".to_string()),
        _ => (", ".to_string(), ": ".to_string()),
    };
    let style =
        JsonStyle { indent, item, key, sort_keys: sort_keys.unwrap_or(false), ascii: ensure_ascii.unwrap_or(false) };
    let mut out = String::new();
    write_json(&mut out, &value, &style, 0, state)?;
    Ok(Value::from(out))
}

struct JsonStyle {
    indent: Option<String>,
    item: String,
    key: String,
    sort_keys: bool,
    ascii: bool,
}

fn write_json(
    out: &mut String,
    value: &Value,
    style: &JsonStyle,
    depth: usize,
    state: &State,
) -> std::result::Result<(), minijinja::Error> {
    // Paid like any value the template creates, so a huge structure runs out of fuel.
    if out.len() >= 64 {
        state.consume_fuel((out.len() / 64) as u64)?;
    }
    let newline = |out: &mut String, depth: usize| {
        if let Some(indent) = &style.indent {
            out.push('\n');
            out.push_str(&indent.repeat(depth));
        }
    };
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => match (i64::try_from(value.clone()), f64::try_from(value.clone())) {
            (Ok(i), _) => out.push_str(&i.to_string()),
            (_, Ok(f)) if f.is_finite() => out.push_str(&format!("{f:?}")),
            (_, Ok(f)) => out.push_str(if f.is_nan() {
                "NaN"
            } else if f > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            }),
            _ => out.push_str(&value.to_string()),
        },
        ValueKind::String => write_json_string(out, value.as_str().unwrap_or_default(), style.ascii),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item);
                }
                newline(out, depth + 1);
                write_json(out, item, style, depth + 1, state)?;
            }
            if !items.is_empty() {
                newline(out, depth);
            }
            out.push(']');
        }
        ValueKind::Map => {
            let mut keys: Vec<Value> = value.try_iter()?.collect();
            if style.sort_keys {
                keys.sort();
            }
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item);
                }
                newline(out, depth + 1);
                write_json_string(out, &key.to_string(), style.ascii);
                out.push_str(&style.key);
                write_json(out, &value.get_item(key)?, style, depth + 1, state)?;
            }
            if !keys.is_empty() {
                newline(out, depth);
            }
            out.push('}');
        }
        _ => write_json_string(out, &value.to_string(), style.ascii),
    }
    Ok(())
}

/// A JSON string as Python writes it: `\n`-style escapes where JSON has them, `\u00XX` for other
/// control characters, and with `ascii` every non-ASCII character as UTF-16 `\uXXXX` escapes.
fn write_json_string(out: &mut String, text: &str, ascii: bool) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ascii && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Collects rendered text and refuses to grow past `limit` bytes.
struct BoundedOutput {
    bytes: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl Write for BoundedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.limit {
            self.overflowed = true;
            return Err(std::io::Error::other("the rendered prompt is too long"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `{% generation %}` … `{% endgeneration %}` mark the assistant's text for transformers'
/// training masks; outside training they render their body, which a plain `if true` block does
/// with the same whitespace control (`-`/`+` markers are kept).
fn without_generation_tags(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        out.push_str(&rest[..start]);
        let tag = &rest[start..];
        let Some(end) = tag.find("%}") else {
            out.push_str(tag);
            return out;
        };
        let inner = &tag[2..end];
        let (left, body) = match inner.strip_prefix(['-', '+']) {
            Some(body) => (&inner[..1], body),
            None => ("", inner),
        };
        let (body, right) = match body.strip_suffix(['-', '+']) {
            Some(trimmed) => (trimmed, &body[trimmed.len()..]),
            None => (body, ""),
        };
        let replacement = match body.trim() {
            "generation" => Some("if true"),
            "endgeneration" => Some("endif"),
            _ => None,
        };
        match replacement {
            Some(statement) => out.push_str(&format!("{{%{left} {statement} {right}%}}")),
            None => out.push_str(&tag[..end + 2]),
        }
        rest = &tag[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, text: &str) -> Result<String> {
        let tokens =
            TemplateTokens { bos_token: Some("<s>".into()), eos_token: Some("</s>".into()), ..Default::default() };
        ChatTemplate::new(source, "test template", TemplateLimits::default())?.render_image_question(text, &tokens)
    }

    /// llava-hf/llava-1.5-7b-hf's template, as published.
    const LLAVA_15: &str = "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";

    #[test]
    fn the_llava_1_5_template_renders_as_transformers_does() {
        assert_eq!(render(LLAVA_15, "What is shown?").unwrap(), "USER: <image>\nWhat is shown? ASSISTANT:");
    }

    #[test]
    fn blocks_trim_as_transformers_configures_jinja() {
        let source = "{{ bos_token }}\n{% for m in messages %}\n  {% for c in m.content %}\n    {% if c.type == 'text' %}[{{ c.text | trim }}]{% endif %}\n  {% endfor %}\n{% endfor %}\n{% if add_generation_prompt %}<start>\n{% endif %}\n";
        // trim_blocks drops the newline after a block tag, not after an expression (Jinja2 3.1 gives
        // the same string).
        assert_eq!(render(source, "  hi  ").unwrap(), "<s>\n[hi]<start>\n");
        let loop_controls = "{% for i in range(5) %}{% if i == 2 %}{% break %}{% endif %}{{ i }}{% endfor %}";
        assert_eq!(render(loop_controls, "").unwrap(), "01");
    }

    #[test]
    fn python_string_methods_and_tojson_behave_as_in_python() {
        let source = "{{ messages[0].content[1].text.strip().title() }}|{{ 'a,b'.split(',') | tojson }}|{{ {'k': 'é<'} | tojson }}|{{ {'b': 1, 'a': [1.5, none, true]} | tojson(indent=2) }}";
        assert_eq!(
            render(source, "  red square ").unwrap(),
            "Red Square|[\"a\", \"b\"]|{\"k\": \"é<\"}|{\n  \"b\": 1,\n  \"a\": [\n    1.5,\n    null,\n    true\n  ]\n}"
        );
        let ascii = "{{ 'é\n' | tojson(ensure_ascii=true) }}|{{ {'b': 1, 'a': 2} | tojson(sort_keys=true, separators=[',', ':']) }}";
        assert_eq!(render(ascii, "").unwrap(), "\"\\u00e9\\n\"|{\"a\":2,\"b\":1}");
    }

    #[test]
    fn generation_tags_render_their_body_with_their_whitespace_control() {
        let source = "A {%- generation -%}  B  {%- endgeneration %} C{% generation %}D{% endgeneration %}";
        assert_eq!(without_generation_tags(source), "A {%- if true -%}  B  {%- endif %} C{% if true %}D{% endif %}");
        assert_eq!(render(source, "").unwrap(), "AB CD");
        assert_eq!(without_generation_tags("{{ x }} {% if y %}"), "{{ x }} {% if y %}");
        assert_eq!(without_generation_tags("open {% never closed"), "open {% never closed");
    }

    #[test]
    fn raise_exception_and_render_failures_are_errors_naming_the_template() {
        let raised = render("{{ raise_exception('Only user and assistant roles are supported!') }}", "").unwrap_err();
        let message = raised.to_string();
        assert!(message.starts_with("chat template: test template failed to render"), "{message}");
        assert!(message.contains("the template raised: Only user and assistant roles are supported!"), "{message}");
        let syntax = render("{% for m in messages %}", "").unwrap_err().to_string();
        assert!(syntax.contains("does not parse"), "{syntax}");
        let unknown = render("{{ strftime_now('%Y') }}", "").unwrap_err().to_string();
        assert!(unknown.contains("failed to render") && unknown.contains("strftime_now"), "{unknown}");
        let attribute = render("{{ messages[0].content.nothing.deeper }}", "").unwrap_err().to_string();
        assert!(attribute.contains("failed to render"), "{attribute}");
    }

    #[test]
    fn hostile_templates_hit_their_limits() {
        let endless = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
        let error = render(endless, "").unwrap_err().to_string();
        assert!(error.contains("more work than the limit of 500000 units"), "{error}");
        let doubling =
            "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}";
        assert!(render(doubling, "").unwrap_err().to_string().contains("more work than the limit"));
        let deep = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}";
        let error = render(deep, "").unwrap_err().to_string();
        assert!(error.contains("nests deeper than 100 levels"), "{error}");
        let long_output = "{% for i in range(30000) %}{{ messages[0].content[1].text }}{% endfor %}";
        let error = render(long_output, &"x".repeat(100)).unwrap_err().to_string();
        assert!(error.contains("the rendered prompt exceeds 1048576 bytes"), "{error}");
        let repeated = "{{ 'x' * 100000000 }}";
        assert!(render(repeated, "").is_err());
    }

    #[test]
    fn a_published_template_costs_little_fuel() {
        let limits = TemplateLimits { fuel: 2_000, ..TemplateLimits::default() };
        let template = ChatTemplate::new(LLAVA_15, "llava", limits).unwrap();
        assert!(template.render_image_question("What is in this image?", &TemplateTokens::default()).is_ok());
    }
}
