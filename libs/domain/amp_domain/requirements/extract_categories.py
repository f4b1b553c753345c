"""Categorical constraints: workload types, deployment, data class, compliance, languages, stack, GPU, cadence.

Each is a set of cue patterns read with negation ("no real-time needs", "serverless is
not an option"); the rules say which cue wins when several speak, so that a reviewer can
trace a value back to the words that set it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from amp_contracts import DATA_CLASS_ORDER

from .extract_gazetteer import gazetteer
from .extract_text import Hit, capped, clause_bounds, dedupe, is_negated, sentence_bounds


@dataclass
class Found:
    """Values of one list or scalar field, their spans, and what the text denied."""

    values: list = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    negated: list = field(default_factory=list)


# ---------------------------------------------------------------- workload types

@lru_cache(maxsize=1)
def _workload_cues() -> dict[str, re.Pattern[str]]:
    # "every" + a unit of time or a weekday ("every 6 hours", "every other Monday"); "score every
    # transaction" or "every event" is about each item, not a schedule
    every = (r"(?:every|each)\s+(?:other\s+|single\s+|\d+(?:\.\d+)?\s*|(?:two|three|four|five|six|twelve|fifteen|"
             r"thirty|few|couple\s+of)\s+)?(?:nights?|days?|mornings?|evenings?|weeks?|weekends?|months?|"
             r"quarters?|hours?|hrs?|h|minutes?|mins?|years?|business\s+days?|weekdays?|(?:mon|tues|wednes|thurs|"
             r"fri|satur|sun)days?|sprints?|releases?)\b")
    cadence = rf"(?:daily|weekly|hourly|monthly|quarterly|nightly|yearly|annually|{every})"
    return {
        "batch": re.compile(
            r"\b(?:batch|batches|batched|nightly|overnight|periodic(?:ally)?|scheduled|cron|etl|backfill\w*|"
            r"every\s+(?:night|day|morning|evening|week|weekend|month|quarter|hour|year|"
            r"\d+\s*(?:minutes?|mins?|hours?|hrs?|days?|weeks?))|"
            r"(?:once|twice|thrice|(?:\d+|two|three|four|five|six)\s+times)\s+(?:a|per|every)\s+"
            r"(?:day|week|month|quarter|year|night|hour)|"
            r"(?:daily|weekly|hourly|monthly|quarterly|nightly|yearly|annual)\s+(?:[\w-]+\s+){0,2}?(?:jobs?|runs?|refresh\w*|re-?train\w*|"
            r"training|scor\w*|forecasts?|reports?|batch\w*|exports?|pipelines?|updates?|predictions?|inference|"
            r"aggregat\w*|etl|backfills?|recomput\w*)|"
            r"(?:re-?train\w*|scor\w*|refresh\w*|train\w*|process\w*|forecast\w*|updat\w*|predict\w*|comput\w*|"
            r"generat\w*|produc\w*|aggregat\w*|recomput\w*|export\w*|run|runs|rebuil\w*|reindex\w*|"
            # files that come on a schedule: "logs uploaded hourly as CSV", "a feed delivered nightly"
            r"upload\w*|deliver\w*|landed|lands|dropped|synced|syncs|loaded|loads)\s+"
            rf"(?:[\w-]+\s+){{0,4}}?{cadence}|"
            r"bulk\s+(?:scoring|inference|predictions?|processing)|offline\s+(?:scoring|inference|predictions?))\b",
            re.IGNORECASE),
        "streaming": re.compile(
            r"\b(?:streams?|streaming|streamed|clickstreams?|event[- ]streams?|event[- ]driven|"
            r"real[- ]?time\s+(?:events?|ingest\w*|features?|feature\s+updates?|pipelines?|processing|updates?|"
            r"signals?|telemetry|data\s+(?:feeds?|flows?|ingest\w*))|"
            r"(?:events?|messages?|msgs|records|readings|telemetry)\s*(?:/|per)\s*(?:s|sec|second)|"
            r"continuous(?:ly)?\s+(?:process\w*|ingest\w*|scor\w*|arriv\w*|flow\w*|updat\w*|produc\w*|generat\w*|"
            r"comput\w*)|"
            r"(?:arriv\w*|flow\w*|com\w*\s+in|ingest\w*|process\w*|consum\w*|scor\w*|classif\w*|analy[sz]\w*|"
            r"evaluat\w*|enrich\w*|transform\w*|updat\w*|handl\w*|produc\w*|generat\w*|comput\w*|summari[sz]\w*|"
            r"transcrib\w*)\s+(?:continuously|non-?stop|constantly|around\s+the\s+clock)|"
            # "notes arrive via Pub/Sub", "events come in from Kafka": arrival through a message system
            r"(?:arriv\w*|com(?:e|es|ing)\s+in|flow(?:s|ing)?\s+in|consum(?:e|es|ed|ing)|(?:are|is|get|gets)\s+"
            r"(?:published|pushed|emitted|sent))\s+(?:[\w-]+\s+){0,4}?(?:via|from|through|over|on|into)\s+"
            r"(?:an?\s+|the\s+|our\s+)?"
            r"(?:[\w-]+\s+)?(?:kafka|kinesis|pub\s*/\s*sub|pubsub|pub\s+sub|event\s*hubs?|mqtt|rabbitmq|sqs|"
            r"queues?|message\s+(?:bus|queue|broker)|topics?|event\s+bus|eventbridge)|"
            r"(?:updated|processed|ingested|scored|computed|refreshed|arriv\w*|flow(?:s|ing)?\s+in|"
            r"com(?:e|es|ing)\s+in)\s+(?:in\s+)?(?:near[- ])?real[- ]?time|"
            r"near[- ]real[- ]?time|change\s+data\s+capture|cdc|"
            # "processed one by one as they come in": each item handled on its arrival
            r"as\s+(?:soon\s+as\s+)?(?:events|they|it|messages|records|readings)\s+(?:arrives?|comes?\s+in|lands?))\b",
            re.IGNORECASE),
        "online": re.compile(
            r"\b(?:apis?|endpoints?|online|web\s*services?|microservices?|request[/-]response|on[- ]demand|"
            r"interactive|chat\s*bots?|inference\s+services?|widgets?|synchronous(?:ly)?|at\s+request\s+time|"
            r"serv(?:e|es|ed|ing)\s+(?:\w+\s+){0,2}?(?:online|live|in\s+real[- ]?time|to\s+users|per\s+request)|"
            r"(?:requests?|reqs?|queries|predictions|calls|lookups|inferences)\s*(?:/|per|a|each)\s*(?:s|sec|second|minute|min)|"
            r"rps|qps|tps)\b",
            re.IGNORECASE),
        "realtime": re.compile(r"\b(?:real[- ]?time|low[- ]latency|instant(?:ly)?|live\s+(?:scoring|predictions?))\b",
                               re.IGNORECASE),
    }


_NOT_ONLINE_AFTER = re.compile(r"^\s*(?:stores?|shops?|retail\w*|marketplaces?|business\w*|presence|games?|gaming|"
                               r"courses?|learning|banking|sales|advertising|ads|media|reviews?|forms?|orders?|"
                               r"customers?|users?|documentation|docs?|keys?|rate\s+limits?|calls?\s+to)\b", re.IGNORECASE)
_TOKEN_STREAM = re.compile(r"\b(?:responses?|tokens?|outputs?|answers?|replies|completions?|text|words)\s+"
                           r"(?:\w+\s+){0,3}?(?:stream\w*)|\bstream\w*\s+(?:back\s+)?(?:the\s+)?(?:responses?|"
                           r"tokens?|outputs?|answers?|replies|completions?)\b", re.IGNORECASE)
#: "streaming" naming what the business sells ("a music streaming service", "our streaming video app"),
#: not how its data arrives; "500 cameras stream video" or "a Kafka stream" are still event processing.
_MEDIA = r"(?:video|music|audio|media|movies?|films?|tv|television|podcasts?|games?|gaming|anime|sports?)"
_MEDIA_PRODUCT = re.compile(
    # "churn scoring for a streaming service": the business, named by what it is, after "for/at/of a"
    # ("data from our event streaming platform" is infrastructure: the word before it is no event word)
    r"\b(?:for|at|of|by|from|with)\s+(?:an?|the|our|their|one)\s+(?!(?:event|data|message|log|kafka|real-?time)\b)"
    r"(?:[\w-]+\s+)?streaming\s+(?:service|company|business|provider|giant)s?\b|"
    rf"\b(?:{_MEDIA}[- ]streaming|streaming[- ](?:{_MEDIA}(?:\s+and\s+{_MEDIA})?))\s+"
    r"(?:apps?|applications?|services?|platforms?|sites?|websites?|company|companies|business\w*|products?|"
    r"providers?|subscriptions?|subscribers?|customers?|users?|viewers?|listeners?|catalog\w*|librar\w*)\b",
    re.IGNORECASE)
#: Click data kept at rest ("500 GB of clickstream logs in BigQuery", "clickstream history"), not
#: arriving: streaming only if the clause also says it arrives live.
_AT_REST = re.compile(r"\bclickstreams?\s+(?:[\w-]+\s+)?(?:logs?|history|archives?|dumps?|exports?|tables?|files?|"
                      r"datasets?|snapshots?|backfills?)\b", re.IGNORECASE)
_LIVE = re.compile(r"\b(?:real[- ]?time|live|as\s+it\s+happens|continuous\w*|kafka|kinesis|pub\s*/?\s*sub|"
                   r"event\s*hubs?|streamed|streaming)\b", re.IGNORECASE)
_VENDOR_API = re.compile(r"\b(?:openai|anthropic|external|third[- ]party|vendor|partner|their|salesforce|stripe|"
                         r"twitter|google|maps|weather|provider|public|rest\s+of\s+the)\s+$", re.IGNORECASE)


#: A fleet of devices sending what they measure ("40,000 sensors each sending a reading", "vans report
#: their position"): events arriving one by one, when the sentence gives a rate of seconds or minutes.
_DEVICES_SEND = re.compile(
    r"\b(?:sensors?|devices?|meters?|vehicles?|vans?|trucks?|cars?|buses|machines?|cameras?|drones?|robots?|"
    r"turbines?|trackers?|wearables?|gateways?|beacons?|thermostats?|pumps?|scooters?|bikes?),?\s+(?:\w+\s+){0,2}?"
    r"(?:send|emit|report|push|publish|transmit|stream|beam|ping)(?:s|es|ed|ing)?\b", re.IGNORECASE)
_FAST_RATE = re.compile(r"(?:\b(?:every|each|per)\s+|/\s*)(?:\d+(?:\.\d+)?\s*|few\s+|couple\s+of\s+)?"
                        r"(?:seconds?|secs?|s|minutes?|mins?|min)\b|\b(?:once|twice|times)\s+a\s+(?:second|minute)\b|"
                        r"\b(?:continuous\w*|live|real[- ]?time)\b", re.IGNORECASE)


#: "400,000 devices, each reporting every 5 minutes", "one reading every 5 seconds": how often things
#: send data, which makes traffic, not a scheduled job.
_REPORTING_BEFORE = re.compile(
    r"\b(?:each|(?:send|emit|report|push|publish|transmit|ping|beacon)(?:s|es|ed|ing)?|readings?|pings?|"
    r"heartbeats?|measurements?|samples?|messages?|updates?\s+(?:its|their)\s+position)\s+(?:[\w-]+\s+){0,3}?$",
    re.IGNORECASE)
_SHORT_INTERVAL = re.compile(r"^every\s+\d+(?:\.\d+)?\s*(?:seconds?|secs?|minutes?|mins?)\b", re.IGNORECASE)


def _reporting_interval(text: str, cue: re.Match[str]) -> bool:
    """Whether a batch cue is a sender's reporting interval of seconds or minutes, not a schedule."""
    return bool(_SHORT_INTERVAL.match(cue.group(0))) and bool(
        _REPORTING_BEFORE.search(text, max(0, cue.start() - 50), cue.start()))


def _devices_sending(text: str) -> re.Match[str] | None:
    for m in capped(_DEVICES_SEND.finditer(text)):
        lo, hi = sentence_bounds(text, m.start(), m.end())
        if _FAST_RATE.search(text, m.end(), hi) and not is_negated(text, m.start(), m.end()):
            return m
    return None


def extract_workloads(text: str, has_latency: bool, patch_mode: bool = False) -> Found:
    """batch / streaming / online as the README defines them; weak "real-time" cues only decide when nothing else does."""
    cues = _workload_cues()
    found = Found()
    seen: dict[str, Hit] = {}
    for kind in ("batch", "streaming", "online"):
        for m in capped(cues[kind].finditer(text)):
            if is_negated(text, m.start(), m.end()):
                found.negated.append(kind)
                continue
            if kind == "batch" and _reporting_interval(text, m):
                continue
            if kind == "streaming" and _TOKEN_STREAM.search(text[max(0, m.start() - 40):m.end() + 25]):
                continue  # streamed LLM answers are request/response, not event processing
            if kind == "streaming" and any(p.start() <= m.start() < p.end()
                                           for p in _MEDIA_PRODUCT.finditer(text, max(0, m.start() - 30), m.end() + 60)):
                continue  # the product is a streaming service; its workloads are said elsewhere
            if kind == "streaming" and (rest := _AT_REST.match(text, m.start())) is not None:
                lo, hi = clause_bounds(text, m.start(), m.end())
                if not _LIVE.search(text[lo:rest.start()] + " " + text[rest.end():hi]):
                    continue  # click data stored for training, not a stream to process
            if kind == "online":
                word = m.group(0).lower()
                if word == "online" and _NOT_ONLINE_AFTER.match(text[m.end():m.end() + 30]):
                    continue
                if word.startswith("api") and _VENDOR_API.search(text[max(0, m.start() - 30):m.start()]):
                    continue
            if kind not in seen:
                seen[kind] = Hit("workload_types", kind, m.start(), m.end(), m.group(0))
    if "streaming" not in seen and not patch_mode and (m := _devices_sending(text)) is not None:
        seen["streaming"] = Hit("workload_types", "streaming", m.start(), m.end(), m.group(0))
    if "streaming" not in seen and "online" not in seen and not patch_mode:
        realtime_denied = False
        for m in capped(cues["realtime"].finditer(text)):
            if is_negated(text, m.start(), m.end()):
                realtime_denied = True
                continue
            seen["online"] = Hit("workload_types", "online", m.start(), m.end(), m.group(0))
            break
        else:
            if has_latency and not realtime_denied:
                seen["online"] = Hit("workload_types", "online", 0, 0, "")
    hits = sorted(seen.values(), key=lambda h: h.start)
    found.values = [h.value for h in hits]
    found.hits = [h for h in hits if h.end > h.start]
    found.negated = dedupe([k for k in found.negated if k not in seen])
    return found


_TRAINING_ONLY = re.compile(r"\b(?:re-?train\w*|training|train)\b", re.IGNORECASE)


_SCORING_WORD = re.compile(r"\b(?:scor\w*|predict\w*|inference|infer\w*|forecast\w*|batch\w*|reports?|exports?|"
                           r"etl|aggregat\w*|recomput\w*|classif\w*)\b", re.IGNORECASE)


def _about_training(text: str, cue: re.Match[str]) -> bool:
    """Whether a batch cue schedules (re)training only: it says so itself ("retrain nightly"), or it is
    a bare schedule word about training: the next few words in the clause say what is scheduled
    ("nightly retrain", but "weekly training and nightly scoring"), else the previous few ("a
    retraining run overnight")."""
    if _TRAINING_ONLY.search(cue.group(0)):
        return True
    if _SCORING_WORD.search(cue.group(0)):
        return False
    lo, hi = clause_bounds(text, cue.start(), cue.end())
    for side in (" ".join(text[cue.end():hi].split()[:3]), " ".join(text[lo:cue.start()].split()[-3:])):
        if _SCORING_WORD.search(side):
            return False
        if _TRAINING_ONLY.search(side):
            return True
    return False


def extract_batch_scoring(text: str, workloads: list[str]) -> Found:
    """Whether the batch work stated includes predictions, or is only scheduled retraining.

    Retraining counts as batch work (the README), but only batch predictions need batch
    serving; when every batch cue is about (re)training the answer is False.
    """
    found = Found()
    if "batch" not in workloads:
        return found
    cues = [m for m in capped(_workload_cues()["batch"].finditer(text)) if not is_negated(text, m.start(), m.end())]
    if not cues:
        return found
    scoring = any(not _about_training(text, m) for m in cues)
    found.values = [scoring]
    found.hits = [Hit("batch_scoring", scoring, cues[0].start(), cues[0].end(), cues[0].group(0))]
    return found


# ---------------------------------------------------------------- deployment preference

_SERVERLESS = re.compile(r"\b(?:serverless|server-less|faas|functions?[- ]as[- ]a[- ]service|(?:aws\s+)?lambdas?|"
                         r"cloud\s+run|cloud\s+functions|azure\s+functions|app\s+runner|scale[- ]to[- ]zero)\b", re.IGNORECASE)
_CONTAINERS = re.compile(r"\b(?:containers?|containeri[sz]ed|docker|kubernetes|k8s|eks|gke|aks|ecs|fargate|openshift|"
                         r"helm|nomad)\b", re.IGNORECASE)
_INFRA_DENIED = re.compile(r"\b(?:clusters?|servers?|infrastructure|infra|nodes|vms?|virtual\s+machines)\b", re.IGNORECASE)
_PREFER = re.compile(r"\b(?:prefer\w*|want|wants|must|only|should|if\s+possible|require\w*|need\w*|insist\w*|"
                     r"mandat\w*|policy|go\s+with|use)\b", re.IGNORECASE)
_EXPLICIT_WORDS = ("serverless", "server-less", "container", "containers", "containerized", "containerised", "faas")


def extract_deployment(text: str) -> Found:
    """serverless or containers: explicit words count double, a denied side votes for the other."""
    score = {"serverless": 0.0, "containers": 0.0}
    hits: dict[str, list[Hit]] = {"serverless": [], "containers": []}
    for side, rx in (("serverless", _SERVERLESS), ("containers", _CONTAINERS)):
        other = "containers" if side == "serverless" else "serverless"
        for m in capped(rx.finditer(text)):
            weight = 2.0 if m.group(0).lower() in _EXPLICIT_WORDS else 1.0
            lo, hi = clause_bounds(text, m.start(), m.end())
            if _PREFER.search(text[lo:hi]):
                weight += 1.0
            if is_negated(text, m.start(), m.end()):
                score[other] += 2.0
                hits[other].append(Hit("deployment_pref", other, m.start(), m.end(), m.group(0)))
            else:
                score[side] += weight
                hits[side].append(Hit("deployment_pref", side, m.start(), m.end(), m.group(0)))
    for m in capped(_INFRA_DENIED.finditer(text)):
        if is_negated(text, m.start(), m.end(), words_before=5):
            score["serverless"] += 2.0
            hits["serverless"].append(Hit("deployment_pref", "serverless", m.start(), m.end(), m.group(0)))
    found = Found()
    if score["serverless"] == score["containers"]:
        return found
    best = max(score, key=lambda k: score[k])
    found.values = [best]
    found.hits = hits[best][:3]
    return found


# ---------------------------------------------------------------- aliased lists

def _aliased(text: str, table_name: str, field_name: str) -> Found:
    table = getattr(gazetteer(), table_name)
    found = Found()
    for cid, m in capped(table.finditer(text)):
        if is_negated(text, m.start(), m.end()):
            found.negated.append(cid)
            continue
        found.hits.append(Hit(field_name, cid, m.start(), m.end(), m.group(0)))
    found.values = dedupe([h.value for h in found.hits])
    found.negated = [n for n in dedupe(found.negated) if n not in found.values]
    return found


def extract_compliance(text: str) -> Found:
    """Compliance regimes by alias ("PCI DSS", "SOC 2 Type II", "ISO/IEC 27001")."""
    return _aliased(text, "compliance", "compliance")


def extract_stack(text: str) -> Found:
    """Tools the team already runs, by alias ("EKS" → kubernetes, "Pub/Sub" → pubsub); a tool only
    weighed up ("we are evaluating Snowflake", "we might put features in Cosmos DB") is not run yet."""
    found = _aliased(text, "stack", "existing_stack")
    kept = [h for h in found.hits if not _only_considered(text, h, found.hits)]
    return Found(values=dedupe([h.value for h in kept]), hits=kept, negated=found.negated)


#: A verb of weighing a tool up, whose object it is: "evaluating Snowflake and Databricks", "considering Feast".
_CONSIDER_VERB = re.compile(r"\b(?:evaluat(?:e|es|ing)|consider(?:s|ing)?|explor(?:e|es|ing)|weigh(?:s|ing)?|"
                            r"look(?:ing)?\s+(?:at|into)|think(?:ing)?\s+(?:about|of)|trial(?:l?ing)?|"
                            r"pilot(?:ing)?|assess(?:ing)?|prototyp(?:e|es|ing)|shortlist(?:ed|ing)?)\b", re.IGNORECASE)
#: What may stand between such a verb and the tool, besides other tools: "evaluating a move to X",
#: "considering adopting X", "weighing X, Y or Z".
_CONSIDER_FILLER = re.compile(r"(?:[\s,&/]|\b(?:and|or|an?|the|adopting|using|introducing|whether\s+to\s+"
                              r"(?:use|adopt)|a\s+move\s+to|moving\s+to|switching\s+to|migrating\s+to)\b)*",
                              re.IGNORECASE)
#: A hedged plan to bring a tool in: "we might put online features in Cosmos DB", "we may adopt Feast".
_MODAL_ADOPT = re.compile(r"\b(?:might|(?-i:may)|could|plan(?:s|ning)?\s+to|hop(?:e|ing)\s+to|intend\s+to|"
                          r"would\s+like\s+to)\s+(?:[\w-]+\s+)?(?:put|use|adopt|add|introduce|switch|migrate|move|"
                          r"go\s+with|try|store|land|pick|choose|bring\s+in|host|keep\s+\w+\s+in)\b", re.IGNORECASE)
#: "Feast is under consideration", "Snowflake is being evaluated".
_CONSIDERED_AFTER = re.compile(r"\s*(?:is|are)\s+(?:being\s+(?:evaluated|considered|piloted|trial(?:l)?ed|explored|"
                               r"assessed)|under\s+(?:consideration|evaluation))\b", re.IGNORECASE)


def _only_considered(text: str, hit: Hit, hits: list[Hit]) -> bool:
    """Whether a tool is named only as an option being weighed up, in its clause, not as one in use.

    The verb must govern the tool (only other tools and list words between them): "we are
    evaluating models with MLflow" names MLflow as in use.
    """
    lo, hi = clause_bounds(text, hit.start, hit.end)
    lo = max(lo, hit.start - 80)
    if _CONSIDERED_AFTER.match(text, hit.end, hi) or _MODAL_ADOPT.search(text, lo, hit.start):
        return True
    listed = [o for o in hits if lo <= o.start and o.end <= hit.start]
    for verb in capped(_CONSIDER_VERB.finditer(text, lo, hit.start)):
        gap = list(text[verb.end():hit.start])
        for o in listed:  # other tools in the list stand as list items
            if verb.end() <= o.start:
                gap[o.start - verb.end():o.end - verb.end()] = " " * (o.end - o.start)
        if _CONSIDER_FILLER.fullmatch("".join(gap)):
            return True
    return False


_TEAM_CONTEXT = re.compile(r"\b(?:team|teams|language|languages|written|writes|write|writing|code|coding|coded|"
                           r"developers?|engineers?|devs|knows?|skills?|experience\w*|proficient|fluent|stack|"
                           r"in-house|services?\s+in)\b", re.IGNORECASE)


#: What joins two items of a list of languages: "Python/TS", "Go, TS and SQL", "Java & JS".
_LIST_JOINER = re.compile(r"\s*(?:/|,|&|\+|\band\b|\bor\b|,\s*and\b)\s*", re.IGNORECASE)


def _in_language_list(text: str, hit: Hit, hits: list[Hit]) -> bool:
    """Whether another language sits right next to `hit`, joined as a list item ("Python/TS")."""
    for o in hits:
        if o is hit or o.text.lower() in gazetteer().list_only_language_aliases:
            continue
        gap = text[o.end:hit.start] if o.end <= hit.start else text[hit.end:o.start]
        if len(gap) <= 8 and _LIST_JOINER.fullmatch(gap):
            return True
    return False


def extract_languages(text: str) -> Found:
    """Team languages; names that are also words ("Go", "R") need another language or team talk nearby,
    and abbreviations that are also other things ("TS", "JS") a full language name beside them in a list."""
    g = gazetteer()
    raw = _aliased(text, "languages", "team_languages")
    kept: list[Hit] = []
    for h in raw.hits:
        if h.text.lower() in g.list_only_language_aliases:
            if _in_language_list(text, h, raw.hits):
                kept.append(h)
            continue
        if h.value in g.ambiguous_languages and h.text.lower() == h.value:  # "Golang" is never a verb
            lo, hi = sentence_bounds(text, h.start, h.end)
            others = any(lo <= o.start < hi and o is not h for o in raw.hits)
            alone = text[h.end:hi].strip(" .!") == ""  # "Team: Python. Go." / "... Budget $1k. Go."
            if h.value == "go" and text[lo:h.start].strip() == "" and not others and not alone:
                continue  # "Go with AWS." at the start of a sentence is a verb
            if alone and text[lo:h.start].strip() == "":
                kept.append(h)
                continue
            if not (others or _TEAM_CONTEXT.search(text[lo:hi])):
                continue
        kept.append(h)
    return Found(values=dedupe([h.value for h in kept]), hits=kept, negated=raw.negated)


# ---------------------------------------------------------------- data classification

_RANK = {name: i for i, name in enumerate(DATA_CLASS_ORDER)}
_IMPLIED_BY = {"hipaa": "phi", "pci_dss": "pci"}
#: A class that exists only inside its regime's scope: card data tokenised by a payment provider
#: before it arrives ("so we are outside PCI DSS scope") is not cardholder data for the platform.
_SCOPED_BY = {"pci_dss": "pci"}


def extract_data_class(text: str, compliance: Found) -> Found:
    """The most restrictive data class stated; HIPAA implies PHI and PCI DSS cardholder data, and
    PCI DSS stated out of scope keeps card words from making the data cardholder data."""
    raw = _aliased(text, "data_classes", "data_classification")
    out_of_scope = {_SCOPED_BY[r] for r in compliance.negated if r in _SCOPED_BY}
    hits = [h for h in raw.hits if h.value not in out_of_scope]
    for h in compliance.hits:
        implied = _IMPLIED_BY.get(h.value)
        if implied:
            hits.append(Hit("data_classification", implied, h.start, h.end, h.text))
    if not hits:
        return Found(negated=raw.negated)
    top = max(_RANK[h.value] for h in hits)
    best = [h for h in hits if _RANK[h.value] == top]
    return Found(values=[best[0].value], hits=best[:3], negated=raw.negated)


# ---------------------------------------------------------------- storage the text asks for

#: The storage preference a feature store asked for by name is kept as; the catalog's
#: `implied_by_preference` (meta.yaml) makes the planner add the capability for it.
FEATURE_STORE = "feature-store"
_FEATURE_STORE = re.compile(r"\b(?:(?:online|offline|real[- ]time|low[- ]latency)\s+)?feature[- ]?stores?\b|"
                            r"\bonline\s+features?\s+(?:store|serving|look-?ups?)\b", re.IGNORECASE)


def extract_storage_prefs(text: str) -> Found:
    """Storage systems the text asks for: a feature store named as wanted ("features looked up from an
    online feature store"), not one ruled out ("no feature store needed")."""
    for m in capped(_FEATURE_STORE.finditer(text)):
        if not is_negated(text, m.start(), m.end()):
            return Found(values=[FEATURE_STORE], hits=[Hit("storage_prefs", FEATURE_STORE, m.start(), m.end(),
                                                           m.group(0))])
    return Found()


# ---------------------------------------------------------------- GPU and training cadence

_GPU = re.compile(r"\b(?:gpus?|cuda|a100s?|h100s?|h200s?|v100s?|a10g|l4s?|t4s?|nvidia|tensor\s+cores?)\b", re.IGNORECASE)
_CPU_ONLY = re.compile(r"\bcpu[- ]only\b|\bonly\s+(?:on\s+)?cpus?\b", re.IGNORECASE)


def extract_gpu(text: str) -> Found:
    """True when GPUs are asked for; False when they are ruled out ("no GPUs", "CPU-only")."""
    for m in capped(_GPU.finditer(text)):
        if not is_negated(text, m.start(), m.end()):
            return Found(values=[True], hits=[Hit("gpu", True, m.start(), m.end(), m.group(0))])
    for m in list(capped(_CPU_ONLY.finditer(text))) + list(capped(_GPU.finditer(text))):
        return Found(values=[False], hits=[Hit("gpu", False, m.start(), m.end(), m.group(0))])
    return Found()


_RARER = "rarer than monthly"
_TRAIN = re.compile(r"\b(?:re-?train\w*|train\w*|refit\w*|fine[- ]?tun\w*|model\s+refresh\w*)\b", re.IGNORECASE)
_CADENCE = [
    ("hourly", re.compile(r"\b(?:hourly|every\s+hour|once\s+an\s+hour|each\s+hour)\b", re.IGNORECASE)),
    ("daily", re.compile(r"\b(?:daily|nightly|every\s+(?:day|night|morning|evening)|each\s+(?:day|night)|"
                         r"once\s+(?:a|per)\s+day|per\s+day)\b", re.IGNORECASE)),
    ("weekly", re.compile(r"\b(?:weekly|every\s+week|once\s+(?:a|per)\s+week|each\s+week|(?:every|each)\s+(?:monday|"
                          r"tuesday|wednesday|thursday|friday|saturday|sunday)|on\s+(?:mondays|tuesdays|wednesdays|"
                          r"thursdays|fridays|saturdays|sundays))\b", re.IGNORECASE)),
    ("monthly", re.compile(r"\b(?:monthly|every\s+month|once\s+(?:a|per)\s+month|each\s+month)\b", re.IGNORECASE)),
    # Rarer than any cadence the schema holds: the training's cadence is stated, but not as a value
    # (left unset), and a cadence said of something else in the sentence is not taken instead.
    (_RARER, re.compile(r"\b(?:quarterly|yearly|annually|semi-?annually|twice\s+a\s+year|every\s+(?:quarter|year|"
                           r"(?:\d+|two|three|four|six|nine|twelve)\s+months)|once\s+(?:a|per)\s+(?:quarter|year)|"
                           r"each\s+(?:quarter|year))\b", re.IGNORECASE)),
]


def extract_cadence(text: str) -> Found:
    """How often models are retrained: the cadence word nearest a training word in its clause."""
    for m in capped(_TRAIN.finditer(text)):
        if is_negated(text, m.start(), m.end()):
            continue
        for lo, hi in (clause_bounds(text, m.start(), m.end()), sentence_bounds(text, m.start(), m.end())):
            best: tuple[int, str, re.Match[str]] | None = None
            for name, rx in _CADENCE:
                for c in capped(rx.finditer(text, lo, hi)):
                    distance = abs(c.start() - m.start())
                    if best is None or distance < best[0]:
                        best = (distance, name, c)
            if best:
                _, name, c = best
                if name == _RARER:
                    return Found()
                return Found(values=[name], hits=[Hit("training_cadence", name, c.start(), c.end(), c.group(0))])
    return Found()


#: What a batch job produces: scores, predictions, forecasts, rankings, reports of a model.
_SCORE = re.compile(r"\b(?:scor(?:e|es|ed|ing)|predict(?:s|ed|ing|ions?)?|forecast(?:s|ed|ing)?|inferences?|"
                    r"re-?rank\w*|rank(?:ing|ings)|recommendations?|propensit(?:y|ies)|segment(?:s|ation))\b",
                    re.IGNORECASE)
#: A clause about money ("predictable monthly spend", "a monthly budget for the predictive model")
#: gives its cadence to the bill, not to the scores.
_MONEY_CLAUSE = re.compile(r"\b(?:budget\w*|spend\w*|costs?|bill\w*|invoice\w*|price\w*|\$|€|£|usd|eur|gbp)\b|[$€£]",
                           re.IGNORECASE)
_REALTIME = re.compile(r"\b(?:real[- ]?time|online|live|on[- ]demand|per[- ]request|api|endpoint|streaming)\b",
                       re.IGNORECASE)


def extract_scoring_cadence(text: str) -> Found:
    """How often batch predictions are produced: a cadence word said of the scores, not of training.

    "Nightly churn scoring", "weekly forecasts for 2,000 stores", "scores refreshed every hour".
    A cadence nearer a training word than the scoring word is the training's ("scoring API,
    retrained weekly"), and scoring said to be real-time or online has no schedule.
    """
    trains = [m.start() for m in capped(_TRAIN.finditer(text))]
    best: tuple[int, str, re.Match[str]] | None = None  # the nearest cadence to any scoring word
    for m in capped(_SCORE.finditer(text)):
        if is_negated(text, m.start(), m.end()):
            continue
        lo, hi = clause_bounds(text, m.start(), m.end())
        if _REALTIME.search(text, max(lo, m.start() - 30), min(hi, m.end() + 15)) or _MONEY_CLAUSE.search(text, lo, hi):
            continue
        s_lo, s_hi = sentence_bounds(text, m.start(), m.end())  # "Lead scoring in batch, nightly."
        for name, rx in _CADENCE:
            for c in capped(rx.finditer(text, s_lo, s_hi)):
                distance = abs(c.start() - m.start())
                if any(abs(c.start() - t) < distance for t in trains):
                    continue
                if _MONEY_CLAUSE.search(text, *clause_bounds(text, c.start(), c.end())):
                    continue
                if best is None or distance < best[0]:
                    best = (distance, name, c)
    if best is None or best[1] == _RARER:
        return Found()
    _, name, c = best
    return Found(values=[name], hits=[Hit("scoring_cadence", name, c.start(), c.end(), c.group(0))])
