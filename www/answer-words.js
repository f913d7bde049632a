// The words of a generated answer, shared by the app and <sightline-explainer>: tokens grouped as
// people read them, the first content word (what an answer explains first), and one word's maps:
// the sum of its tokens' maps.

/** Words that carry no content of their own, skipped when choosing the word to explain first. */
const FUNCTION_WORDS = new Set(
  'a an the and or but of to in on at by for with from as is are was were be been it its this that these those there here i you he she we they me him her us them my your his our their not no yes do does did so if then than'.split(' '),
);

const PUNCTUATION = /^[\p{P}\p{S}]+$/u;
const WHITESPACE_START = /^\s/;
const WHITESPACE_END = /\s$/;

/**
 * The answer's streamed tokens ({index, text, ...}) as words: `[{ tokens: [index, ...], text }]`.
 * A token starts a word when its text starts with a space, follows one, or is punctuation; a token
 * with no text of its own (a character's first bytes, or a special token) stays with the tokens
 * after it until text appears.
 */
export function answerWords(tokens) {
  const words = [];
  let word = null;
  for (const token of tokens) {
    const text = token.text ?? '';
    const joins =
      word &&
      (word.text === '' ||
        (text !== '' && !WHITESPACE_START.test(text) && !WHITESPACE_END.test(word.text) && !PUNCTUATION.test(text) && !PUNCTUATION.test(word.text.trim())));
    if (!joins) {
      word = { tokens: [], text: '' };
      words.push(word);
    }
    word.tokens.push(token.index);
    word.text += text;
  }
  return words;
}

/** The first word with a letter or digit that is not a function word ("the", "is", ...); else
 * the first word with a letter or digit; else the first word. */
export function firstContentWord(words) {
  const readable = words.filter((w) => /[\p{L}\p{N}]/u.test(w.text));
  return readable.find((w) => !FUNCTION_WORDS.has(w.text.trim().toLowerCase())) ?? readable[0] ?? words[0] ?? null;
}

/** The token an answer explains when none is named: the first content word's first token with a
 * letter or digit of its own (a word may start with a token that holds only part of a character). */
export function firstContentToken(tokens) {
  const word = firstContentWord(answerWords(tokens));
  if (!word) return null;
  return word.tokens.find((k) => /[\p{L}\p{N}]/u.test(tokens[k].text)) ?? word.tokens[0];
}

/** The word that holds token `index`. */
export function wordOf(words, index) {
  return words.find((w) => w.tokens.includes(index)) ?? null;
}

function sum(lists) {
  if (lists.some((l) => !l)) return null;
  const out = new Array(Math.max(...lists.map((l) => l.length))).fill(0);
  for (const list of lists) list.forEach((v, i) => (out[i] += v));
  return out;
}

/**
 * One word's maps from its explained answer tokens (each as the generate JSON gives it): patch and
 * pixel scores summed; text scores summed position by position (a later token reads more text
 * positions: the earlier tokens of the answer), over the longest token list.
 */
export function sumTokenMaps(tokens) {
  const longest = tokens.reduce((a, t) => ((t.text_tokens?.length ?? 0) > (a.text_tokens?.length ?? 0) ? t : a), tokens[0]);
  return {
    patch_scores: sum(tokens.map((t) => t.patch_scores)),
    pixel_scores: sum(tokens.map((t) => t.pixel_scores)),
    text_tokens: longest.text_tokens ?? [],
    text_scores: sum(tokens.map((t) => t.text_scores)),
  };
}
