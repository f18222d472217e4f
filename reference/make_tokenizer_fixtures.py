#!/usr/bin/python3
"""Generate the tokenizer fixtures (testdata/ref/tokenizer/) that tokenizer/ must agree with.

Run from the repository root with Debian's Python and its python3-sentencepiece and
python3-regex (apt-get install -y python3-sentencepiece python3-regex):

    /usr/bin/python3 reference/make_tokenizer_fixtures.py

It writes, from a corpus written below (mixed scripts, emoji, digits, code, whitespace runs):

  sp.bin                  a SentencePiece BPE model (model_type=bpe, byte_fallback=True, LLaMA-2's
                          options) exported as llama2.c's tokenizer.py exports tokenizer.model: a
                          uint32 max_token_length, then per piece a float32 score, a uint32 length
                          and the bytes, "▁" replaced by " ", BOS written "\\n<s>\\n", EOS "\\n</s>\\n"
  sp.json                 the same model as transformers' LlamaConverter writes tokenizer.json:
                          vocab in id order, merges from SentencePieceExtractor (every split of a
                          piece into two pieces, by the merged piece's score), normalizer
                          Prepend("▁") + Replace(" ", "▁"), byte_fallback, <unk>/<s>/</s> added
  sp-metaspace.json       the older form: no normalizer, pre_tokenizer Metaspace(add_prefix_space)
  sp-metaspace-first.json the newer Metaspace: prepend_scheme "first", split false
  gpt2.json               a byte-level BPE (GPT-2's pre-tokenizer regex, ByteLevel) trained here by
                          the reference trainer below, with <|endoftext|>
  llama3.json             the same trainer with LLaMA-3's Split regex + ByteLevel(use_regex=false),
                          ignore_merges (plus the entry "Ġquietly", which no merge reaches: only
                          ignore_merges gives it), <|begin_of_text|> (BOS, by TemplateProcessing),
                          <|end_of_text|>, <|reserved_special_token_0|>, <|eot_id|>
  cases.json              the test strings (text, or hex for invalid UTF-8) and, per case, the ids
                          each reference gives:
                            sp        sentencepiece's own sp.encode (its normalizer replaces every
                                      invalid UTF-8 byte with U+FFFD, so those become <0xEF><0xBF><0xBD>)
                            sp_decode sp.decode(sp)
                            llama2c   a port of llama2.c's run.c encode() on sp.bin (raw bytes: an
                                      invalid byte falls back to its own byte token)
                            hf        what Hugging Face tokenizers gives for sp.json: sp.encode of each
                                      piece between the added tokens <unk>, <s>, </s>, which HF matches
                                      in the text. HF takes only str: for invalid UTF-8 this is the
                                      reference BPE below on the same pipeline with each bad byte a
                                      character of its own (surrogateescape) that falls back to itself
                            hf_metaspace, hf_metaspace_first
                                      the reference BPE below (merges by rank, byte fallback) after
                                      HF's Metaspace pre-tokenizer (null for invalid UTF-8)
                            gpt2, llama3
                                      the reference byte-level BPE below: the pre-tokenizer regex run
                                      by the `regex` module, bytes_to_unicode, merges by rank (LLaMA-3:
                                      ignore_merges), added tokens matched leftmost-longest. Invalid
                                      UTF-8 is decoded with surrogateescape, so each bad byte is one
                                      character of no class (HF cannot take such input)

The output is deterministic: rerunning gives identical bytes. It prints every case where two
references disagree (llama2c vs sp, and the rank-ordered BPE vs sp on sp.json's merges).

Optional cross-check against Hugging Face's tokenizers (the Rust library, through its Node
binding from npm: `npm install tokenizers` in some folder), which writes nothing:

    /usr/bin/python3 reference/make_tokenizer_fixtures.py --check-hf /path/to/node_modules
"""
import io
import json
import os
import struct
import subprocess
import sys
import tempfile

import regex
import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "ref", "tokenizer")
SPACE = "\u2581"  # ▁

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"""
                  r""" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")

# ---------------------------------------------------------------------------------------------
# The corpus: a few hundred lines drawn deterministically from these fragments.

FRAGMENTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Once upon a time, there was a little girl named Lily who loved to play outside.",
    "She said: \"I don't know, but we'll see what they've done.\"",
    "It's a sunny day; the children can't wait to go to the park!",
    "Machine learning models are trained on large amounts of text.",
    "Parameter-efficient fine-tuning adapts a frozen model with few weights.",
    "café, déjà vu, naïve façade, Ångström, Straße, smörgåsbord",
    "Le renard brun rapide saute par-dessus le chien paresseux.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Быстрая лиса и собака.",
    "Η γρήγορη αλεπού.",
    "日本語のテキスト。東京は日本。",
    "中文分词测试。",
    "안녕하세요 세계",
    "emoji: 😀 😂 🎉 👍 ❤️ 🚀",
    "numbers 0 1 2 3 42 100 2024 3.14159 1,000,000 -7",
    "def add(a, b):\n    return a + b",
    "for (int i = 0; i < n; i++) {\n\tsum += x[i];\n}",
    "    indented by four spaces",
    "  two  spaces   three    four",
    "tabs\tand\ttabs\t\tdouble",
    "line one\nline two\n\nline four",
    "https://example.com/path?query=value&other=1",
    "UPPER CASE WORDS AND lower case words",
    "I'm sure you're right; he'd said we've seen it, they'll come.",
]


def corpus():
    """About 600 lines: each fragment several times, and pairs joined in a fixed pseudo-random
    order (a linear congruential generator, so every Python gives the same lines)."""
    lines = []
    state = 12345
    for rep in range(8):
        lines.extend(FRAGMENTS)
    for _ in range(400):
        state = (state * 1103515245 + 12345) % (1 << 31)
        a = FRAGMENTS[state % len(FRAGMENTS)]
        state = (state * 1103515245 + 12345) % (1 << 31)
        b = FRAGMENTS[state % len(FRAGMENTS)]
        lines.append(a + " " + b)
    # SentencePiece trains on lines: newlines inside a fragment would be dropped by its reader,
    # so the SentencePiece corpus splits them; the byte-level trainer sees the text whole.
    return lines


# ---------------------------------------------------------------------------------------------
# SentencePiece: training, llama2.c export, HF conversion.

SP_VOCAB = 512


def train_sp(lines):
    sentences = []
    for line in lines:
        sentences.extend(s for s in line.split("\n") if s)
    f = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=f, model_type="bpe", vocab_size=SP_VOCAB,
        byte_fallback=True, character_coverage=0.995, normalization_rule_name="identity",
        add_dummy_prefix=True, remove_extra_whitespaces=False, split_digits=True,
        allow_whitespace_only_pieces=True, max_sentencepiece_length=16, num_threads=1,
        shuffle_input_sentence=False, input_sentence_size=0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        hard_vocab_limit=True, minloglevel=2)
    return spm.SentencePieceProcessor(model_proto=f.getvalue())


def llama2c_export(sp):
    """llama2.c's tokenizer.py export(), returning the file and its (pieces, scores)."""
    pieces, scores = [], []
    for i in range(sp.get_piece_size()):
        t = sp.id_to_piece(i)
        s = sp.get_score(i)
        if i == sp.bos_id():
            t = "\n<s>\n"
        elif i == sp.eos_id():
            t = "\n</s>\n"
        t = t.replace(SPACE, " ")
        pieces.append(t.encode("utf-8"))
        scores.append(s)
    out = bytearray(struct.pack("I", max(len(t) for t in pieces)))
    for b, s in zip(pieces, scores):
        out += struct.pack("fI", s, len(b))
        out += b
    return bytes(out), pieces, scores


def extract_merges(sp):
    """transformers' SentencePieceExtractor.extract(vocab_scores), as LlamaConverter calls it."""
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    vocab_scores = {sp.id_to_piece(i): sp.get_score(i) for i in range(sp.get_piece_size())}
    merges = []
    for merge, piece_score in vocab_scores.items():
        local = []
        for index in range(1, len(merge)):
            piece_l, piece_r = merge[:index], merge[index:]
            if piece_l in vocab and piece_r in vocab:
                local.append((piece_l, piece_r, piece_score))
        local = sorted(local, key=lambda x: (vocab[x[0]], vocab[x[1]]))
        merges.extend(local)
    merges = sorted(merges, key=lambda val: val[2], reverse=True)
    return vocab, [(a, b) for a, b, _ in merges]


def added(i, content):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def template(bos, bos_id):
    return {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}}}


def sp_json(sp, vocab, merges, variant):
    """tokenizer.json as LlamaConverter writes it (variant "prepend"), or the Metaspace forms."""
    tok = {"version": "1.0", "truncation": None, "padding": None,
           "added_tokens": [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")],
           "normalizer": None, "pre_tokenizer": None, "post_processor": template("<s>", 1), "decoder": None}
    if variant == "prepend":
        tok["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE},
            {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]}
        tok["decoder"] = {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    elif variant == "metaspace":
        tok["pre_tokenizer"] = {"type": "Metaspace", "replacement": SPACE, "add_prefix_space": True}
        tok["decoder"] = {"type": "Metaspace", "replacement": SPACE, "add_prefix_space": True}
    else:
        tok["pre_tokenizer"] = {"type": "Metaspace", "replacement": SPACE, "prepend_scheme": "first", "split": False}
        tok["decoder"] = {"type": "Metaspace", "replacement": SPACE, "prepend_scheme": "first", "split": False}
    tok["model"] = {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                    "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                    "vocab": vocab, "merges": [a + " " + b for a, b in merges]}
    return tok


# ---------------------------------------------------------------------------------------------
# llama2.c's run.c encode(), ported: code points grouped as run.c groups bytes (a byte and up to
# three continuation bytes), looked up whole or byte-fallen-back (byte + 3), then the adjacent pair
# whose concatenation is a piece with the highest score merged (leftmost on ties) until none.

def runc_encode(pieces, scores, text, bos=False, eos=False):
    lookup = {}
    for i, p in enumerate(pieces):
        lookup.setdefault(p, i)
    tokens = [1] if bos else []
    if text:
        tokens.append(lookup[b" "])
    i = 0
    while i < len(text):
        j = i + 1
        while j < len(text) and (text[j] & 0xC0) == 0x80 and j - i < 4:
            j += 1
        group = text[i:j]
        if group in lookup:
            tokens.append(lookup[group])
        else:
            tokens.extend(b + 3 for b in group)
        i = j
    while True:
        best_score, best_id, best_idx = -1e10, -1, -1
        for k in range(len(tokens) - 1):
            pid = lookup.get(pieces[tokens[k]] + pieces[tokens[k + 1]], -1)
            if pid != -1 and scores[pid] > best_score:
                best_score, best_id, best_idx = scores[pid], pid, k
        if best_idx == -1:
            break
        tokens[best_idx:best_idx + 2] = [best_id]
    if eos:
        tokens.append(2)
    return tokens


# ---------------------------------------------------------------------------------------------
# Hugging Face's BPE model (tokenizers/src/models/bpe): a word's characters (byte fallback for
# unknown ones, unknowns fused), then the adjacent pair with the lowest merge rank merged
# (leftmost on ties) until none.

def bpe_rank(word, vocab, ranks, byte_fallback=False, unk=None, ignore_merges=False):
    if ignore_merges and word in vocab:
        return [vocab[word]]
    syms = []
    pending_unk = False
    for ch in word:
        if ch in vocab:
            pending_unk = False
            syms.append(vocab[ch])
            continue
        if byte_fallback:
            syms.extend(vocab["<0x%02X>" % b] for b in ch.encode("utf-8", "surrogateescape"))
            pending_unk = False
            continue
        if unk is None:
            raise ValueError("no token for %r" % ch)
        if not pending_unk:
            syms.append(vocab[unk])
        pending_unk = True
    while True:
        best = None
        for k in range(len(syms) - 1):
            m = ranks.get((syms[k], syms[k + 1]))
            if m is not None and (best is None or m[0] < best[0]):
                best = (m[0], k, m[1])
        if best is None:
            return syms
        _, k, new = best
        syms[k:k + 2] = [new]


def ranks_of(vocab, merges):
    ranks = {}
    for r, (a, b) in enumerate(merges):
        ranks[(vocab[a], vocab[b])] = (r, vocab[a + b])
    return ranks


def split_added(text, added_tokens):
    """HF's AddedVocabulary: leftmost-longest matches of the added tokens' contents, as
    (piece, added token id or None, offset) triples."""
    out, start, i = [], 0, 0
    while i < len(text):
        best = None
        for content, tid in added_tokens.items():
            if text.startswith(content, i) and (best is None or len(content) > len(best[0])):
                best = (content, tid)
        if best is None:
            i += 1
            continue
        if i > start:
            out.append((text[start:i], None, start))
        out.append((best[0], best[1], i))
        i += len(best[0])
        start = i
    if start < len(text):
        out.append((text[start:], None, start))
    return out


SP_ADDED = {"<unk>": 0, "<s>": 1, "</s>": 2}


def hf_sp_encode(sp, text):
    """sp.json under HF: added tokens split off first, then each piece normalized (Prepend +
    Replace, which is SentencePiece's own normalization with these options) and encoded."""
    ids = []
    for piece, tid, _ in split_added(text, SP_ADDED):
        ids.extend([tid] if tid is not None else sp.encode(piece))
    return ids


def hf_metaspace_encode(vocab, ranks, text, scheme, split):
    ids = []
    for piece, tid, offset in split_added(text, SP_ADDED):
        if tid is not None:
            ids.append(tid)
            continue
        s = piece.replace(" ", SPACE)
        if not s.startswith(SPACE) and (scheme == "always" or (scheme == "first" and offset == 0)):
            s = SPACE + s
        words = [s]
        if split:  # SplitDelimiterBehavior::MergedWithNext on "▁"
            words, cur = [], ""
            for ch in s:
                if ch == SPACE and cur:
                    words.append(cur)
                    cur = ""
                cur += ch
            if cur:
                words.append(cur)
        for w in words:
            ids.extend(bpe_rank(w, vocab, ranks, byte_fallback=True, unk="<unk>"))
    return ids


# ---------------------------------------------------------------------------------------------
# Byte-level BPE: GPT-2's bytes_to_unicode, a reference trainer and encoder.

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


B2U = bytes_to_unicode()


def to_units(s):
    return "".join(B2U[b] for b in s.encode("utf-8", "surrogateescape"))


def train_bytelevel(text, pattern, n_merges):
    """Plain BPE over the pre-tokenized words: the most frequent adjacent pair is merged, ties
    broken by the smaller (left, right) strings; ids 0..255 are the bytes in byte order."""
    counts = {}
    for m in regex.findall(pattern, text):
        w = tuple(to_units(m))
        counts[w] = counts.get(w, 0) + 1
    words = [[list(w), c] for w, c in sorted(counts.items())]
    vocab = {B2U[b]: b for b in range(256)}
    merges = []
    for _ in range(n_merges):
        pairs = {}
        for syms, c in words:
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p[0], p[1]))
        merges.append(best)
        new = best[0] + best[1]
        if new not in vocab:
            vocab[new] = len(vocab)
        for w in words:
            syms, out, k = w[0], [], 0
            while k < len(syms):
                if k + 1 < len(syms) and (syms[k], syms[k + 1]) == best:
                    out.append(new)
                    k += 2
                else:
                    out.append(syms[k])
                    k += 1
            w[0] = out
    return vocab, merges


def bytelevel_json(vocab, merges, kind):
    n = len(vocab)
    tok = {"version": "1.0", "truncation": None, "padding": None, "normalizer": None}
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    if kind == "gpt2":
        tok["added_tokens"] = [dict(added(n, "<|endoftext|>"), normalized=True)]
        tok["pre_tokenizer"] = bl
        tok["post_processor"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
        model_extra = {"continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                       "byte_fallback": False, "ignore_merges": False}
        merge_list = [a + " " + b for a, b in merges]
    else:
        tok["added_tokens"] = [added(n, "<|begin_of_text|>"), added(n + 1, "<|end_of_text|>"),
                               added(n + 2, "<|reserved_special_token_0|>"), added(n + 3, "<|eot_id|>")]
        tok["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated", "invert": False},
            dict(bl, use_regex=False)]}
        tok["post_processor"] = {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            template("<|begin_of_text|>", n)]}
        model_extra = {"continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": False,
                       "byte_fallback": False, "ignore_merges": True}
        merge_list = [[a, b] for a, b in merges]  # the newer pair form
    tok["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    tok["model"] = dict({"type": "BPE", "dropout": None, "unk_token": None}, **model_extra)
    tok["model"]["vocab"] = vocab
    tok["model"]["merges"] = merge_list
    return tok


def bytelevel_encode(vocab, ranks, text, pattern, added_tokens, ignore_merges):
    ids = []
    for piece, tid, _ in split_added(text, added_tokens):
        if tid is not None:
            ids.append(tid)
            continue
        for m in regex.findall(pattern, piece):
            ids.extend(bpe_rank(to_units(m), vocab, ranks, ignore_merges=ignore_merges))
    return ids


# ---------------------------------------------------------------------------------------------
# The test strings: (name, str) or (name, bytes) for invalid UTF-8.

CASES = [
    ("empty", ""),
    ("ascii", "Hello world"),
    ("sentence", "The quick brown fox jumps over the lazy dog."),
    ("unseen_words", "Zebras quietly vexed jumbo wizards."),
    ("leading_space", " leading space"),
    ("leading_spaces", "   three leading"),
    ("trailing_space", "trailing space "),
    ("only_spaces", "    "),
    ("one_space", " "),
    ("space_runs", "a  b   c    d     e"),
    ("tabs", "\tcol1\tcol2\t\tcol4"),
    ("newlines", "line1\nline2\r\nline3\n\n\nend\n"),
    ("newline_only", "\n"),
    ("indent", "def f(x):\n    return x * 2\n"),
    ("accents", "café déjà vu, naïve Ångström Straße"),
    ("combining", "e\u0301 a\u0300 n\u0303"),
    ("greek_russian", "Быстрая лиса и γρήγορη αλεπού"),
    ("cjk", "日本語のテキスト、中文分词测试"),
    ("cjk_unseen", "漢字鬱龘"),
    ("korean", "안녕하세요 세계"),
    ("emoji", "I ❤️ Go 🎉🚀"),
    ("emoji_unseen", "🦊🐧"),
    ("emoji_zwj", "👨\u200d👩\u200d👧\u200d👦 family"),
    ("emoji_flag_skin", "🇫🇷 👍🏽"),
    ("digits", "0 12 345 6789 1234567890"),
    ("number_mix", "v2.0.1, 3.14159, -42, 1,000,000, 2024-06-30"),
    ("contractions", "I'm can't we're they've she'll he'd it's"),
    ("contractions_upper", "I'M CAN'T WE'RE THEY'VE SHE'LL HE'D IT'S"),
    ("long_s", "it'ſ"),
    ("code", "for (int i = 0; i < n; i++) { sum += x[i]; }"),
    ("url", "https://example.com/a?b=c&d=e#frag"),
    ("punct_run", "Wait... what?!?! (yes) [no] {maybe}"),
    ("repeats", "aaaaaaaaaaaa !!!!!! ------"),
    ("long_word", "supercalifragilisticexpialidocious"),
    ("unicode_spaces", "a\u00a0b\u3000c\u2009d"),
    ("mixed_ws", " \t \n  x \n\t"),
    ("specials_sp", "a<s>b</s> <unk>c"),
    ("special_gpt2", "end<|endoftext|>start"),
    ("special_llama3", "<|begin_of_text|>hi<|eot_id|> there"),
    ("replacement_char", "bad \ufffd char"),
    ("bad_byte", b"\xff"),
    ("bad_bytes_inside", b"abc\x80def"),
    ("truncated_euro", b"price \xe2\x82"),
    ("truncated_at_end", b"caf\xc3"),
    ("surrogate", b"\xed\xa0\x80x"),
    ("stray_continuation", b"\xc3\xa9\x80\x80!"),
    ("overlong", b"\xc0\xaf \xf8\x88\x80\x80\x80"),
    ("emoji_then_stray", b"\xf0\x9f\x98\x80\x80\x80\x80"),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = corpus()

    sp = train_sp(lines)
    binfile, bin_pieces, bin_scores = llama2c_export(sp)
    vocab, merges = extract_merges(sp)
    ranks = ranks_of(vocab, merges)

    text = "\n".join(lines)
    n_merges = 256
    gpt2_vocab, gpt2_merges = train_bytelevel(text, GPT2_PATTERN, n_merges)
    l3_vocab, l3_merges = train_bytelevel(text, LLAMA3_PATTERN, n_merges)
    # One entry that no merge reaches, which only ignore_merges can give (the case "unseen_words").
    l3_vocab.setdefault(to_units(" quietly"), len(l3_vocab))
    gpt2_ranks, l3_ranks = ranks_of(gpt2_vocab, gpt2_merges), ranks_of(l3_vocab, l3_merges)
    gpt2_added = {"<|endoftext|>": len(gpt2_vocab)}
    n = len(l3_vocab)
    l3_added = {"<|begin_of_text|>": n, "<|end_of_text|>": n + 1, "<|reserved_special_token_0|>": n + 2,
                "<|eot_id|>": n + 3}

    files = {
        "sp.bin": binfile,
        "sp.json": sp_json(sp, vocab, merges, "prepend"),
        "sp-metaspace.json": sp_json(sp, vocab, merges, "metaspace"),
        "sp-metaspace-first.json": sp_json(sp, vocab, merges, "first"),
        "gpt2.json": bytelevel_json(gpt2_vocab, gpt2_merges, "gpt2"),
        "llama3.json": bytelevel_json(l3_vocab, l3_merges, "llama3"),
    }

    cases, disagreements = [], []
    for name, value in CASES:
        valid = isinstance(value, str)
        raw = value.encode("utf-8") if valid else value
        as_str = value if valid else value.decode("utf-8", "surrogateescape")
        c = {"name": name}
        if valid:
            c["text"] = value
        else:
            c["hex"] = value.hex()
        c["sp"] = sp.encode(value)  # bytes go straight to SentencePiece's normalizer
        c["sp_decode"] = sp.decode(c["sp"])
        c["llama2c"] = runc_encode(bin_pieces, bin_scores, raw)
        if valid:
            c["hf"] = hf_sp_encode(sp, value)
            c["hf_metaspace"] = hf_metaspace_encode(vocab, ranks, value, "always", True)
            c["hf_metaspace_first"] = hf_metaspace_encode(vocab, ranks, value, "first", False)
            ranked = bpe_rank(SPACE + value.replace(" ", SPACE), vocab, ranks, True, "<unk>") if value else []
            if ranked != c["sp"]:
                disagreements.append("%s: merges by rank on sp.json %s, sp.encode %s" % (name, ranked, c["sp"]))
            if c["llama2c"] != c["sp"]:
                disagreements.append("%s: llama2.c %s, sp.encode %s" % (name, c["llama2c"], c["sp"]))
        else:
            c["hf"] = bpe_rank(SPACE + as_str.replace(" ", SPACE), vocab, ranks, True, "<unk>")
            c["hf_metaspace"] = c["hf_metaspace_first"] = None
        c["gpt2"] = bytelevel_encode(gpt2_vocab, gpt2_ranks, as_str, GPT2_PATTERN, gpt2_added, False)
        c["llama3"] = bytelevel_encode(l3_vocab, l3_ranks, as_str, LLAMA3_PATTERN, l3_added, True)
        cases.append(c)

    ignored = sum(1 for c in cases if "text" in c and
                  c["llama3"] != bytelevel_encode(l3_vocab, l3_ranks, c["text"], LLAMA3_PATTERN, l3_added, False))
    doc = {
        "about": "written by reference/make_tokenizer_fixtures.py; see its docstring for each field",
        "sentencepiece": spm.__version__, "regex": regex.__version__,
        "sp_vocab": sp.get_piece_size(), "gpt2_vocab": len(gpt2_vocab) + 1, "llama3_vocab": len(l3_vocab) + 4,
        "cases": cases,
    }
    if "--check-hf" in sys.argv:
        check_hf(sys.argv[sys.argv.index("--check-hf") + 1], files, cases)
        return
    for fname, content in files.items():
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(content if isinstance(content, bytes) else dumps(content))
    with open(os.path.join(OUT, "cases.json"), "wb") as f:
        f.write(dumps(doc, cases=True))
    print("wrote %s: %d cases; sp vocab %d, gpt2 vocab %d, llama3 vocab %d; ignore_merges changed %d case(s)" % (
        OUT, len(cases), sp.get_piece_size(), len(gpt2_vocab) + 1, len(l3_vocab) + 4, ignored))
    for d in disagreements:
        print("DISAGREE", d)
    if not disagreements:
        print("llama2.c's merge-by-score and sentencepiece agree on every valid-UTF-8 case, and so do merges by rank")


def dumps(obj, cases=False):
    if not cases:
        return (json.dumps(obj, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    # one case a line, to keep the file small and diffs readable
    head = dict(obj)
    rows = head.pop("cases")
    s = json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [\n'
    s += ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    return (s + "\n]}\n").encode("utf-8")


CHECK_JS = r"""
const { Tokenizer } = require(process.argv[2] + "/tokenizers");
const fs = require("fs");
const input = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
const out = {};
(async () => {
  for (const [field, path] of Object.entries(input.files)) {
    const tok = Tokenizer.fromFile(path);
    out[field] = [];
    for (const text of input.texts) {
      const enc = await tok.encode(text, null, { addSpecialTokens: false });
      out[field].push(Array.from(enc.getIds()));
    }
  }
  process.stdout.write(JSON.stringify(out));
})();
"""


def check_hf(node_modules, files, cases):
    """Encode every valid-UTF-8 case with HF tokenizers (Node binding) and compare."""
    fields = {"hf": "sp.json", "hf_metaspace": "sp-metaspace.json", "hf_metaspace_first": "sp-metaspace-first.json",
              "gpt2": "gpt2.json", "llama3": "llama3.json"}
    valid = [c for c in cases if "text" in c]
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for field, fname in fields.items():
            paths[field] = os.path.join(d, fname)
            with open(paths[field], "wb") as f:
                f.write(dumps(files[fname]))
        with open(os.path.join(d, "check.js"), "w") as f:
            f.write(CHECK_JS)
        with open(os.path.join(d, "in.json"), "w") as f:
            json.dump({"files": paths, "texts": [c["text"] for c in valid]}, f)
        res = json.loads(subprocess.check_output(["node", os.path.join(d, "check.js"), os.path.abspath(node_modules),
                                                  os.path.join(d, "in.json")]))
    bad = 0
    for field in fields:
        for c, got in zip(valid, res[field]):
            if got != c[field]:
                bad += 1
                print("HF DIFFERS %s %s: tokenizers %s, fixture %s" % (field, c["name"], got, c[field]))
    print("HF tokenizers cross-check: %d fields x %d valid-UTF-8 cases, %d differ" % (len(fields), len(valid), bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
