"""Build datasets/support_tickets.jsonl: customer-support tickets labelled with a category.

A seeded, dependency-free generator (`python datasets/build_quickstart.py`) of a realistic
classification dataset for the quickstart: 1,200 short tickets in four classes (billing,
technical, shipping, account). Tickets are assembled from varied openings, issue statements,
details and closings, with typos, lowercase/shouting, tickets that mention a second topic
(overlap) and about 3% mislabelled examples (noise), so a learner has something real to learn
and cannot reach 100%.

Format (legacy prompt/completion fine-tuning conventions): every prompt ends with the separator
"\\n\\n###\\n\\n" and every completion is a leading space, the label and "\\n".
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261121
N_EXAMPLES = 1200
SEPARATOR = "\n\n###\n\n"
LABEL_NOISE = 0.03
OVERLAP = 0.18
OUT = Path(__file__).with_name("support_tickets.jsonl")

ISSUES: dict[str, list[str]] = {
    "billing": [
        "I was charged twice for my {plan} subscription this month",
        "my invoice shows {amount} but I agreed to pay less",
        "the refund you promised for order {order} never arrived",
        "my credit card was declined even though it is valid",
        "I need a copy of the receipt for my last payment",
        "why did my monthly fee go up without notice",
        "please cancel the automatic renewal before I get billed again",
        "there is an unknown charge of {amount} on my statement",
        "the discount code was not applied to my invoice",
        "I was billed for the {plan} plan after I downgraded",
        "can I switch from monthly to annual billing and get prorated",
        "the VAT on my invoice is wrong for my country",
        "I paid by bank transfer but the invoice still says unpaid",
        "you took {amount} from my account for a trial that should be free",
        "I want to update the payment method on file",
        "the price at checkout was higher than the advertised price",
    ],
    "technical": [
        "the app crashes every time I open the {feature} screen",
        "I get error {code} when I try to sync my data",
        "the {feature} page has been loading forever since the update",
        "notifications stopped working on my {device}",
        "the export to CSV produces an empty file",
        "the integration with {tool} keeps disconnecting",
        "search returns no results even for items I know exist",
        "the website is extremely slow on {device}",
        "after updating to version {version} nothing saves anymore",
        "the API returns a 500 error for every request",
        "I cannot upload attachments larger than a few megabytes",
        "dark mode makes the text unreadable in the {feature} view",
        "the desktop app freezes when I open large files",
        "two factor codes from the authenticator are rejected as invalid on {device}",
        "the calendar shows events on the wrong day after the time change",
        "webhooks are not firing for new orders",
    ],
    "shipping": [
        "my package for order {order} has not arrived after {days} days",
        "the tracking number does not work on the carrier site",
        "the parcel was delivered to the wrong address",
        "the box arrived damaged and the {item} inside is broken",
        "I received someone else's {item} instead of mine",
        "can I change the delivery address for order {order}",
        "the courier marked it delivered but nothing came",
        "how long does express delivery take to {country}",
        "one item is missing from my shipment",
        "customs is holding my parcel and asking for fees",
        "I need to return the {item} but there is no return label",
        "the estimated delivery date keeps moving back",
        "do you ship to {country} and what does it cost",
        "my order has been stuck in processing for {days} days",
        "the delivery driver left the package in the rain",
        "I want to pick up order {order} at the store instead of delivery",
    ],
    "account": [
        "I cannot log in because the password reset email never comes",
        "please delete my account and all my personal data",
        "my account was locked after too many attempts",
        "how do I change the email address on my profile",
        "someone else logged into my account from {country}",
        "I want to merge my two accounts into one",
        "I forgot my username and the recovery link expired",
        "how can I add a second user to my team workspace",
        "my profile picture and name keep reverting",
        "I need to transfer account ownership to a colleague",
        "the verification code for my phone number never arrives",
        "please unsubscribe me from all marketing emails",
        "how do I download a copy of my personal data",
        "my account shows the wrong company name",
        "I signed up with Google and now cannot set a password",
        "the invite link for my team has expired",
    ],
}

# A second topic mentioned in passing: it makes classes overlap without changing the label.
ASIDES: dict[str, list[str]] = {
    "billing": ["I am still paying for this every month", "and I was charged for it anyway"],
    "technical": ["the app also gave me an error", "and the website keeps timing out"],
    "shipping": ["my last delivery was late too", "I am also waiting on a parcel"],
    "account": ["I had to reset my password twice", "my login also stopped working for a day"],
}

OPENINGS = [
    "Hi,",
    "Hello team,",
    "Hey",
    "Good morning.",
    "Dear support,",
    "",
    "",
    "Urgent:",
    "Hi there!",
    "To whom it may concern,",
]
DETAILS = [
    "This is the second time I am writing about this.",
    "I have been a customer for {years} years.",
    "I already tried logging out and back in.",
    "My order number is {order}.",
    "Screenshots attached.",
    "This is really frustrating.",
    "I need this fixed today.",
    "",
    "",
    "",
]
CLOSINGS = [
    "Thanks.",
    "Thank you in advance.",
    "Please help!",
    "Regards, {name}",
    "Cheers, {name}",
    "",
    "",
    "Waiting for your answer.",
    "Can someone call me back?",
]
FILLERS = {
    "plan": ["Pro", "Basic", "Team", "Enterprise", "Family", "Starter"],
    "amount": ["$19.99", "$49", "€120", "£8.50", "$240", "$5.99", "€35"],
    "order": ["#48213", "A-99120", "#100234", "ORD-5532", "#77810", "B-2210"],
    "feature": ["settings", "dashboard", "reports", "inbox", "checkout", "profile"],
    "code": ["E1023", "0x80070005", "ERR_SYNC_42", "503", "AUTH-17", "E-404"],
    "device": ["my iPhone", "Android", "Chrome", "Safari", "my iPad", "Windows 11", "Firefox"],
    "tool": ["Slack", "Salesforce", "Google Drive", "Zapier", "Shopify", "Outlook"],
    "version": ["4.2", "5.0.1", "3.9", "2026.10"],
    "days": ["5", "10", "12", "three", "two weeks", "8"],
    "item": ["blender", "jacket", "headphones", "lamp", "book", "phone case", "mug"],
    "country": ["Canada", "Germany", "Brazil", "Japan", "Australia", "Spain", "Kenya"],
    "years": ["2", "5", "ten", "3"],
    "name": ["Maria", "John", "Aiko", "Pedro", "Fatima", "Liam", "Chen", "Olga"],
}


def fill(template: str, rng: random.Random) -> str:
    """Replace every {slot} with a random filler."""
    return template.format(**{key: rng.choice(values) for key, values in FILLERS.items()})


def add_typos(text: str, rng: random.Random, rate: float) -> str:
    """Swap or drop letters in a few words, as hurried customers do."""
    words = text.split(" ")
    for index, word in enumerate(words):
        if len(word) > 4 and rng.random() < rate:
            position = rng.randrange(1, len(word) - 2)
            if rng.random() < 0.5:
                word = word[:position] + word[position + 1] + word[position] + word[position + 2 :]
            else:
                word = word[:position] + word[position + 1 :]
            words[index] = word
    return " ".join(words)


def ticket(label: str, rng: random.Random) -> str:
    """One ticket text for a label."""
    issue = fill(rng.choice(ISSUES[label]), rng)
    if rng.random() < OVERLAP:
        other = rng.choice([name for name in ISSUES if name != label])
        issue = f"{issue}, {rng.choice(ASIDES[other])}"
    parts = [
        fill(rng.choice(OPENINGS), rng),
        issue[0].upper() + issue[1:] + rng.choice([".", ".", "!", "?", "..."]),
        fill(rng.choice(DETAILS), rng),
        fill(rng.choice(CLOSINGS), rng),
    ]
    text = " ".join(part for part in parts if part)
    text = add_typos(text, rng, rate=rng.choice([0.0, 0.0, 0.05, 0.15]))
    style = rng.random()
    if style < 0.08:
        text = text.lower()
    elif style < 0.11:
        text = text.upper()
    return text


def build(n_examples: int = N_EXAMPLES, seed: int = SEED) -> list[dict[str, str]]:
    """Distinct tickets, classes balanced but not equal, in random order."""
    rng = random.Random(seed)
    labels = list(ISSUES)
    weights = [0.3, 0.3, 0.22, 0.18]
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    while len(rows) < n_examples:
        label = rng.choices(labels, weights)[0]
        text = ticket(label, rng)
        if text in seen:
            continue
        seen.add(text)
        if rng.random() < LABEL_NOISE:
            label = rng.choice([name for name in labels if name != label])
        rows.append({"prompt": f"Ticket: {text}{SEPARATOR}", "completion": f" {label}\n"})
    return rows


def main() -> None:
    """Write the dataset next to this script."""
    rows = build()
    with OUT.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} examples to {OUT}")


if __name__ == "__main__":
    main()
