//! Tokenizer, chat template and stop tokens against the Python renders recorded in each
//! fixture's reference.json.

mod common;

use fak_models::{Chat, ChatTemplate, StopTokens, Tokenizer};

use common::{FIXTURES, chat_json, fixture_dir, reference};

#[test]
fn tokenizer_cases_encode_and_decode_as_transformers_did() {
    for name in FIXTURES {
        let tokenizer = Tokenizer::from_dir(&fixture_dir(name)).unwrap();
        for case in reference(name).tokenizer_cases {
            assert_eq!(
                tokenizer.encode(&case.text, true).unwrap(),
                case.ids,
                "{name}: {:?}",
                case.text
            );
            assert_eq!(
                tokenizer.encode(&case.text, false).unwrap(),
                case.ids_without_special,
                "{name}: {:?} without special tokens",
                case.text
            );
            assert_eq!(
                tokenizer.decode(&case.ids_without_special, false).unwrap(),
                case.decoded,
                "{name}: decode of {:?}",
                case.text
            );
        }
    }
}

#[test]
fn streamed_decoding_reassembles_multibyte_characters() {
    for name in FIXTURES {
        let tokenizer = Tokenizer::from_dir(&fixture_dir(name)).unwrap();
        for case in reference(name).tokenizer_cases {
            let mut stream = tokenizer.stream(false);
            let mut text = String::new();
            for &id in &case.ids_without_special {
                if let Some(piece) = stream.push(id).unwrap() {
                    text.push_str(&piece);
                }
            }
            assert_eq!(text, case.decoded, "{name}: {:?}", case.text);
        }
    }
}

#[test]
fn chat_templates_render_the_python_text_and_ids_with_and_without_tools() {
    let mut rendered = 0;
    for name in FIXTURES {
        let dir = fixture_dir(name);
        let template = ChatTemplate::from_dir(&dir).unwrap();
        let tokenizer = Tokenizer::from_dir(&dir).unwrap();
        for (i, case) in reference(name).chat.iter().enumerate() {
            let (messages, tools, variables) = chat_json(name, i);
            let mut chat = Chat::from_json(&messages)
                .unwrap()
                .with_generation_prompt(case.add_generation_prompt);
            if let Some(tools) = tools {
                chat = chat.with_tools_json(&tools).unwrap();
            }
            for (key, value) in variables {
                let value: serde_json::Value = serde_json::from_str(&value).unwrap();
                chat = chat.with_variable(&key, value);
            }
            let text = template.render(&chat).unwrap();
            assert_eq!(text, case.text, "{name}: chat {}", case.name);
            assert_eq!(
                tokenizer.encode(&text, false).unwrap(),
                case.ids,
                "{name}: chat {} ids",
                case.name
            );
            rendered += 1;
        }
    }
    // plain for all six, tools for llama3/qwen2/qwen3, qwen3's reasoning and no-thinking.
    assert_eq!(rendered, 11);
}

#[test]
fn a_template_that_raises_is_an_error_carrying_its_message() {
    let template = ChatTemplate::from_dir(&fixture_dir("llama2")).unwrap();
    let chat = Chat::from_json(r#"[{"role": "assistant", "content": "I speak first"}]"#).unwrap();
    let err = template.render(&chat).unwrap_err().to_string();
    assert!(err.contains("turns must alternate user/assistant"), "{err}");
}

#[test]
fn stop_tokens_come_from_generation_config_as_an_id_or_a_list() {
    for name in FIXTURES {
        let stop = StopTokens::from_dir(&fixture_dir(name)).unwrap();
        assert_eq!(stop.0, reference(name).stop_token_ids, "{name}");
    }
}
