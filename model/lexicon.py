"""Hand-written word lists: evidence of insults and threats that does not depend on our corpus's vocabulary.

The n-gram blocks only know words that occur in the training comments, so "you absolute drongo" scores as
civil when no comment ever said "drongo". These counts carry that knowledge in. Words are matched whole
(never as substrings: "Scunthorpe", "class" and "therapist" stay clean), after simple suffix stripping
("idiots", "fucking", "stabbed") and wildcard matching of masked spellings ("f*ck", "sh!t", "b*tches").

Input is the output of model.normalize.normalize, which has already undone leetspeak, spaced letters and
look-alike characters; what remains masked ("f*ck") is matched here.
"""

import math
import re
from functools import lru_cache


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Insults and derogatory words for a person (nouns and adjectives), singular: plurals are stripped before
# lookup. General, British, US and Australian slang; everyday words with a common civil sense ("cow",
# "nut", "hack", "weapon", "spanner", "thick") are left out on purpose.
INSULTS = _words("""
    idiot moron imbecile cretin clown loser scum numpty dipshit halfwit dimwit nitwit dunce dolt dumbass
    dumbo fool buffoon twit twat tosser wanker prat pillock plonker muppet bellend knobhead knobend nob
    berk wazzock div minger chav scrote pleb bozo doofus dork dweeb jerk asshole arsehole jackass dickhead
    shithead fuckwit fuckface fucktard shitbag scumbag dirtbag sleazebag douche douchebag creep pervert perv
    slimeball sleazeball lowlife degenerate deadbeat dickwad dipstick bonehead blockhead meathead airhead
    knucklehead numbskull numbnuts nincompoop ignoramus simpleton troll shill sheeple snowflake libtard
    trumptard cuck incel hypocrite liar coward crook thug grifter bigot commie drongo galah bogan
    nong deadshit boofhead mongrel sook ratbag bludger dickweed bawbag bampot eejit gobshite
    shitehawk arsewipe wally schmuck shmuck putz dingbat dingus hick redneck skank slut whore bimbo hag
    harpy bitch cunt prick dick cocksucker motherfucker bastard twerp brat wimp wuss pussy sissy crybaby
    blowhard windbag gasbag loudmouth bigmouth dumbfuck dumbshit shitstain shitweasel asshat assclown
    asswipe butthead butthole dingleberry turd scuzzball scumbucket freak weirdo psycho lunatic maniac
    nutjob nutcase nutter loon loony crackpot kook headcase dumbarse fuckhead fuckboy dickface shitlord
    scrounger sponger freeloader parasite leech wankstain knuckledragger neckbeard
    stupid dumb idiotic moronic brainless clueless pathetic worthless useless spineless gutless ignorant
    disgusting vile repulsive loathsome ugly hideous scummy trashy braindead deluded delusional gormless
    daft dozy dopey senile demented imbecilic cretinous asinine vapid inbred subnormal witless dimwitted
    halfwitted dickish spiteful pathological clownish contemptible despicable odious slimy sleazy
    repugnant revolting spastic lardass fatass fatso porker traitor dumber dumbest stupider stupidest
    dimmest ugliest uglier thicko brexidiot remoaner demonrat repuglican dimocrat libturd woketard
""")

# Profanity, with the inflections suffix stripping cannot reach ("fuckin", "shat", "goddamn").
PROFANITY = _words("""
    fuck fucker fucking fuckin fuckn fucken fuckery fuckoff fuckwad effing feck fecking motherfucking
    mofo shit shitty shite shat shitshow shitload shitter bullshit horseshit batshit apeshit chickenshit
    pussy damn dammit damnit goddamn goddamned goddam crap crappy bullcrap piss pisser pissy bitch bitchy cunt
    cunty bastard ass arse arsed asshole arsehole bollocks bollox bugger sod sodding wank wanking jizz
    dick cock prick tits twat frigging friggin fricking hellhole stfu gtfo wtf
""")

# Words that cast people as animals, pests or disease.
DEHUMANISING = _words("""
    vermin parasite animal beast savage subhuman untermensch cockroach roach rat maggot leech louse lice
    pest plague filth scum trash garbage swine pig ape monkey infestation infest infested horde invader
    locust termite rodent weasel slug worm bloodsucker barbarian troglodyte neanderthal knuckledragger
    mutant orc goblin vulture hyena jackal spawn pestilence swarm lemming gremlin exterminate untermenschen
    snake serpent viper
""")
# Nicknames that fuse a country or group with one of those words or a hate word: "usnake", "eurotrash",
# "chinazi", "amerikkka". The first part is one of these stems; the two may share a letter ("us" + "snake").
_GROUP_STEMS = _words("""
    us usa amerika america euro eu brit uk china chin chi jap russ rus ruski isra islam musli jew paki
    afri indo mexi lib libe dem demo rep repub con trump biden gop
""")
_FUSED_TAILS = DEHUMANISING | _words("nazi nazis kkk tard tards")

# SLURS: identity slurs, listed only so comments using them can be detected; the words are never shown to
# users (explanations name the feature, "lexicon:slurs"). Kept in this one constant so reviewers can audit it in one place.
SLURS = _words("""
    nigger nigga faggot fag fagot dyke tranny shemale retard retarded kike spic chink paki wetback gook
    raghead towelhead sandnigger gyppo pikey mong spacker spaz beaner coon jigaboo kyke zipperhead
""")

# Verbs of violence; "kill" alone is common in civil text ("kills the bill"), so the strong evidence is
# the verb aimed at someone (see lexicon_counts) or a fixed phrase (THREAT_PHRASES).
THREAT_VERBS = _words("""
    kill murder shoot shot stab hang hung lynch strangle choke behead decapitate slaughter beat
    beaten punch slap smack burn burnt bury drown gut rape maim cripple torture smash bash stomp curbstomp
    shank exterminate massacre skewer throttle knife bludgeon
""")

THREAT_PHRASES = re.compile(
    r"\b(?:"
    r"hope (?:you|u|ya) (?:die|rot|burn|choke|suffer|get (?:shot|stabbed|hit|cancer|raped))"
    r"|(?:kill|hang|shoot) (?:yourself|urself|yourselves)|kys|go die|drop dead|die in a (?:fire|ditch|hole)"
    r"|watch (?:your|ur|yer) back|(?:you're|youre|you are|ur|u r) (?:dead|next|finished)"
    r"|(?:i|we) know where (?:you|u) live|deserves? to (?:die|be (?:shot|hanged|hung|killed|raped))"
    r"|(?:should|ought to|needs? to) be (?:shot|hanged|hung|killed|strung up|lynched|executed|put down)"
    r"|(?:line|string) (?:them|him|her|you|em) up|put a bullet|bullet (?:in|through) (?:your|ur|his|her)"
    r"|beat (?:you|u|ya|him|her|them) up|beat the (?:shit|crap|hell) out"
    r"|kick (?:your|ur|yer) (?:ass|arse|head in)|smash (?:your|ur) (?:face|head)"
    r"|break (?:your|ur) (?:legs?|neck|face|jaw)|slit (?:your|ur|his|her|their) throats?"
    r"|(?:rot|burn) in hell|(?:i'll|i will|we'll|we will|gonna|going to) (?:find|get|end|hurt) (?:you|u|ya)"
    r"|coming for (?:you|u|ya)|six feet under|sleep with one eye open|you(?:'ll| will) pay for"
    r")\b"
)

# Words that aim a remark at the reader: "you absolute clown", "ur a moron", "@dan_k idiot".
_SECOND_PERSON = _words("you your you're youre yours yourself yourselves ur u ya yo ye y'all yall")
# Who a violent verb can be aimed at: "kill you", "shoot them all", "stab him".
# Possessives are left out: "killing your app" is not a threat.
_THREAT_TARGETS = _words("you u ya ye yourself yourselves y'all yall him her them em")
# "U.S.", "U.K.", "U.N." tokenise to "u" + "s": not the reader.
_NOT_READER_AFTER_U = _words("s k n")
MENTION = "@mention"
# Tokens between an insult and "you"/"@name": "ur a moron", "you absolute clown". Wider windows reach "you" in
# another clause ("if you ask me the plan is stupid"); a token further ("you are such a clown") is missed.
AIM_WINDOW = 3
THREAT_WINDOW = 2  # tokens after a violent verb: "kill all of you" is too loose, "kill you all" is not

# Characters people put inside words to mask them. "*", "_" and "$" also trail ("f***", "a$$");
# "!", "@" and "#" only count between letters, since after a word they are punctuation or a hashtag.
_MASK_CHARS = "*_$!@#"
_MASK_TRAILING = "*_$"
_TOKEN = re.compile(rf"[\w{re.escape(_MASK_CHARS)}']+")
_MASK_RUN = re.compile(rf"[{re.escape(_MASK_CHARS)}]+")
_CVC = re.compile(r"(?:^|[^aeiou])[aeiou][^aeiouwxy]$")

LEXICON_NAMES: tuple[str, ...] = (
    "insults",
    "profanity",
    "dehumanising",
    "slurs",
    "threat_verbs",
    "threat_phrases",
    "masked_hits",
    "aimed_insults",
    "insult_share",
)

_OFFENSIVE = ("insults", "profanity", "slurs")
_VERB_LISTS = ("profanity", "threat_verbs")
_LISTS: dict[str, frozenset[str]] = {
    "insults": INSULTS,
    "profanity": PROFANITY,
    "dehumanising": DEHUMANISING,
    "slurs": SLURS,
    "threat_verbs": THREAT_VERBS,
}
# Second halves of insults people write as two words ("brain dead", "shit head", "knuckle-dragger"). Only these
# join: any pair would make "use less" useless and "saturated fat, so" fatso.
_COMPOUND_TAILS = _words("head dead dragger bag hole wit face wad stain ball wipe hat clown sucker tard end job case")
# Masked spellings are matched against the lists people actually mask.
_MASKABLE = sorted(INSULTS | PROFANITY | SLURS)


def tokenize(normalized_text: str) -> list[str]:
    """Lower-cased words with masks kept inside ("f*ck"); "@name" becomes MENTION; edge punctuation goes."""
    tokens = []
    for raw in _TOKEN.findall(normalized_text.lower().replace("\u2019", "'")):
        if raw.startswith("@") and len(raw) > 2 and raw[1:].replace("_", "").isalnum():
            tokens.append(MENTION)
            continue
        # Leading and trailing "!", "#", "@" are punctuation, hashtags and stray symbols, not masks.
        word = raw.strip("'").lstrip("!#@*_$").rstrip("!#@'")
        if word:
            tokens.append(word)
    return tokens


def _is_masked(word: str) -> bool:
    """A mask run between letters ("sh!t", "b*tch") or trailing them ("f***", "a$$").

    A lone "_" is an underscore ("T_T", "snake_case"), and one letter with one mark ("A*", "B!") is a grade
    or an exclamation, not a masked word.
    """
    if not word or not word[0].isalpha():
        return False
    letters = sum(c.isalpha() for c in word)
    for run in _MASK_RUN.finditer(word):
        mask = run.group(0)
        inside = run.start() > 0 and run.end() < len(word)
        trailing = run.end() == len(word) and all(c in _MASK_TRAILING for c in mask)
        if (inside or trailing) and mask != "_" and (letters >= 2 or len(mask) >= 2):
            return True
    return False


def stems(word: str, verb: bool = True) -> list[str]:
    """The word and its likely bases: plural and -'s stripped, and for verbs -ing/-ed too.

    Plurals strip "-es" only after s/x/z/ch/sh ("bitches" -> "bitch", but "spices" -> "spice", never
    "spic"). A verb ending consonant-vowel-consonant doubles it ("stabbing" -> "stab"), so an undoubled
    one restores a silent e instead ("rating" -> "rate", never "rat").
    """
    out = [word]
    if word.endswith("'s"):
        word = word[:-2]
        out.append(word)
    if len(word) < 4:
        return out
    if word.endswith("ies"):
        out.append(word[:-3] + "y")
    if word.endswith(("ses", "xes", "zes", "ches", "shes")):
        out.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss"):
        out.append(word[:-1])
    if not verb:
        return out
    for suffix in ("ing", "ed", "in'"):
        base = word[: -len(suffix)]
        if not word.endswith(suffix) or len(base) < 3:
            continue
        out.append(base + "e")
        if base[-1] == base[-2]:
            out += [base, base[:-1]]
        elif not _CVC.search(base):
            out.append(base)
    return out


@lru_cache(maxsize=4096)
def _mask_matches(word: str) -> tuple[str, ...]:
    """Listed words a masked token spells, each run of n marks standing for n letters (else n+1: "f*k").

    Masks hide profanity far more often than anything else, so "f***" is "fuck", not "fool" or "fags".
    """
    for extra in (0, 1):
        found: set[str] = set()
        for candidate in stems(word):
            parts = _MASK_RUN.split(candidate)
            pattern = re.escape(parts[0])
            for run, part in zip(_MASK_RUN.findall(candidate), parts[1:], strict=True):
                pattern += f"[a-z]{{{len(run) + extra}}}" + re.escape(part)
            compiled = re.compile(pattern)
            found.update(w for w in _MASKABLE if compiled.fullmatch(w))
        if found:
            profane = found & PROFANITY
            return tuple(sorted(profane or found))
    return ()


def _categories(word: str) -> set[str]:
    """The lists a token belongs to, after suffix stripping."""
    # Only verb lists take -ing/-ed: "jerked", "fooled" and "creeping" are verbs, not the insults.
    nouns, verbs = stems(word, verb=False), stems(word)
    return {
        name for name, words in _LISTS.items() if any(b in words for b in (verbs if name in _VERB_LISTS else nouns))
    }


def _is_reader(tokens: list[str], i: int) -> bool:
    word = tokens[i]
    if word == "u" and i + 1 < len(tokens) and tokens[i + 1] in _NOT_READER_AFTER_U:
        return False
    return word in _SECOND_PERSON or word == MENTION


def _near(positions: list[int], i: int, window: int) -> bool:
    return any(abs(p - i) <= window for p in positions)


# Remembered per word: it depends on the word alone, words repeat (Zipf), and stemming plus masked-spelling
# matching made this block about a sixth of the service's Python time in batches (py-spy, bench/load.py).
def _is_fused_nickname(word: str) -> bool:
    """A group stem joined to a dehumanising or hate word, the two possibly sharing a letter ("us" + "snake")."""
    for cut in range(2, len(word) - 2):
        if word[:cut] in _GROUP_STEMS and (word[cut:] in _FUSED_TAILS or word[cut - 1 :] in _FUSED_TAILS):
            return True
    return False


@lru_cache(maxsize=65_536)
def _token_categories(word: str) -> tuple[frozenset[str], bool]:
    """(lists the token belongs to, whether it was a masked spelling)."""
    if word == MENTION:
        return frozenset(), False
    categories = frozenset(_categories(word))
    if not categories and _is_fused_nickname(word):
        return frozenset({"dehumanising"}), False
    if categories or not _is_masked(word):
        return categories, False
    matches = _mask_matches(word)
    return frozenset().union(*(_categories(m) for m in matches)), bool(matches)


def _join_split_compounds(tokens: list[str], found: list[tuple[frozenset[str], bool]]) -> None:
    """ "brain dead", "knuckle-dragger", "shit head": a listed insult split in two counts once, on its 2nd part."""
    for i in range(len(tokens) - 1):
        tail = tokens[i + 1]
        if found[i + 1][0] or not _COMPOUND_TAILS.intersection(stems(tail, verb=False)):
            continue
        if any(j in INSULTS for j in stems(tokens[i] + tail, verb=False)):
            found[i + 1] = (frozenset({"insults"}), False)


def lexicon_counts(normalized_text: str) -> dict[str, int]:
    """Raw counts per list, plus masked hits, aimed insults and aimed threats, for one normalised comment."""
    tokens = tokenize(normalized_text)
    found = [_token_categories(t) for t in tokens]
    _join_split_compounds(tokens, found)
    counts = dict.fromkeys((*_LISTS, "masked_hits", "aimed_insults", "threat_phrases", "offensive_words"), 0)
    readers = [i for i in range(len(tokens)) if _is_reader(tokens, i)]
    targets = [i for i, t in enumerate(tokens) if t in _THREAT_TARGETS or t == MENTION]
    for i, (categories, masked) in enumerate(found):
        counts["masked_hits"] += masked
        for name in categories:
            counts[name] += 1
        if categories.intersection(_OFFENSIVE):
            counts["offensive_words"] += 1
            counts["aimed_insults"] += _near(readers, i, AIM_WINDOW)
        if "threat_verbs" in categories:
            counts["threat_phrases"] += any(i < t <= i + THREAT_WINDOW for t in targets)
    counts["threat_phrases"] += len(THREAT_PHRASES.findall(" ".join(tokens)))
    counts["tokens"] = len(tokens)
    return counts


def lexicon_features(normalized_text: str) -> list[float]:
    """The LEXICON_NAMES values: log1p counts (a second insult adds less than the first) and a share."""
    c = lexicon_counts(normalized_text)
    logs = [math.log1p(c[name]) for name in LEXICON_NAMES[:-1]]
    return [*logs, c["offensive_words"] / c["tokens"] if c["tokens"] else 0.0]
