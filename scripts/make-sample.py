#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generate the sample data set (samples/records.ndjson) deterministically.

Records are made from Debian's word list (/usr/share/dict/american-english,
package wamerican) with a fixed seed: each belongs to one of 30 topics, so a
search for a topic's words finds its records.  The output is committed; run
this again only to change it:  scripts/make-sample.py > samples/records.ndjson
"""
import json
import random
import sys

N = 3000
WORDS = "/usr/share/dict/american-english"

rng = random.Random(20261125)
with open(WORDS, encoding="utf-8") as f:
    vocab = sorted({w.strip().lower() for w in f
                    if w.strip().isalpha() and w.strip().isascii()
                    and 4 <= len(w.strip()) <= 10 and w.strip().islower()})
topics = [rng.sample(vocab, 12) for _ in range(30)]
fillers = rng.sample(vocab, 400)
kinds = ["study", "survey", "dataset", "analysis", "review", "model"]

for i in range(1, N + 1):
    t = rng.randrange(len(topics))
    topic = topics[t]
    title_words = rng.sample(topic, 3) + rng.sample(fillers, 1)
    rng.shuffle(title_words)
    title = "A %s of %s" % (rng.choice(kinds), " ".join(title_words))
    summary_words = rng.sample(topic, 8) + rng.sample(fillers, 16)
    rng.shuffle(summary_words)
    summary = " ".join(summary_words).capitalize() + "."
    rec = {
        "srn": "urn:osa:sample.osa.dev:rec:s-%05d@1" % i,
        "title": title,
        "summary": summary,
        "topic": t,
        "year": 1990 + rng.randrange(36),
        "keywords": rng.sample(topic, 3),
    }
    sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
