package enquiry

import (
	"regexp"
	"strings"
)

// The phrase tables. Each is a list of regular expressions matched against
// one clause of the resident's own words after normalize: lower case,
// apostrophes kept ("don't"), every other mark and each hyphen a space
// ("opt-out" reads "opt out", "e-mail" reads "e mail"), single spaces.
//
// How to add a phrase: find the message that was misread (the triage page,
// or `optoutd enquiry FILE.eml`), add a file for it to
// testdata/corpus (see its README), add the phrase to the table of the intent
// it should have found, and run `go test ./enquiry` (the corpus test names
// every file read otherwise, and the measurement prints the rates). Prefer a
// phrase that would catch other residents' ways of saying the same thing over
// one that only catches this message. A phrase that sends a plain request to
// a person is cheap; a phrase that hides a complaint is not.

// phraseTable is one table: its patterns, whether a negation just before a
// match ("I do not want to opt back in") cancels it, and all of them joined
// into one expression, so a clause is searched once per table.
type phraseTable struct {
	any       *regexp.Regexp
	phrases   []*regexp.Regexp
	negatable bool
}

// table compiles patterns into a phraseTable, each matched on word boundaries.
func table(negatable bool, patterns ...string) phraseTable {
	t := phraseTable{negatable: negatable, any: regexp.MustCompile(`\b(?:` + strings.Join(patterns, "|") + `)\b`)}
	for _, p := range patterns {
		t.phrases = append(t.phrases, regexp.MustCompile(`\b(?:`+p+`)\b`))
	}
	return t
}

// relative is who a resident may write for.
const relative = `(?:mother|mum|mom|mam|father|dad|husband|wife|partner|spouse|son|daughter|child|children|kids|baby|grandmother|grandma|nan|nana|granny|grandfather|grandad|granddad|grandpa|aunt|auntie|uncle|brother|sister|parents?|relatives?|family member|in law|mother in law|father in law|client|service user|neighbour|friend)`

// Intent tables: what needs a person.
var (
	// complaintPhrases: a complaint or concern about the service or how
	// data was handled, including a possible data-protection incident
	// (shared after an opt-out, a breach). NHS complaints regulations 2009:
	// acknowledged within 3 working days.
	complaintPhrases = table(false,
		`complain(?:t|ts|ing|ed)?`, `not (?:happy|satisfied|pleased)`, `unhappy`, `dissatisfied`,
		`disgusted`, `disgraceful`, `appalled`, `appalling`, `outraged`, `outrageous`, `unacceptable`,
		`disappointed`, `furious`, `angry`, `upset`, `shocking`, `shocked`, `ridiculous`,
		`raise (?:a |my )?concerns?`, `(?:i have|i've got|i've|i had|we have) (?:a |some |serious |real |grave )?concerns?`,
		`serious(?:ly)? concern(?:ed|s)?`, `concerned that`,
		`still (?:being )?(?:shared|visible|accessible|used|accessed|there|seen|showing)`,
		`(?:was|were|been|is|are|being|got) (?:still )?(?:shared|accessed|seen|viewed|looked at) (?:without|despite|even though|after|against)`,
		`(?:shared|accessed|viewed|looked at|used) (?:my|his|her|our) (?:\w+ )?(?:records?|data|information|notes|details) without`,
		`without (?:my|his|her|our) (?:consent|permission|knowledge|agreement)`,
		`(?:did not|didn't|never|do not|don't) (?:agree|consent|give (?:my )?(?:consent|permission)|gave (?:my )?(?:consent|permission))`,
		`(?:could|was able to|were able to) see (?:my|his|her|our) (?:\w+ )?(?:records?|letters?|notes|results|data|information|history)`,
		`(?:data |privacy |confidentiality )?breach(?:ed|es)?`, `leak(?:ed|s)?`, `hacked`, `misused?`,
		`information commissioner`, `\bico\b`, `ombudsman`, `solicitor`, `legal action`, `report (?:this|you|it)`, `useless`,
		`without (?:asking|telling|informing|consulting)`, `(?:lost|lose|losing|misplaced) (?:my|his|her|our) (?:\w+ )?(?:records?|notes|data|form|letters?)`, `(?:records?|notes|data|form) (?:was|were|has been|have been) (?:lost|misplaced)`,
		`(?:treated|spoken to) (?:badly|rudely|poorly)`, `rude`, `incompetent`, `negligen(?:ce|t)`,
		`ignored`, `(?:you|they) (?:have |had )?(?:ignored|lost|failed)`, `who can i speak to about this`,
		`(?:you|they|the \w+) (?:made|have made|has made) (?:a|an) (?:mistake|error)`, `wrongly`,
		`(?:nobody|no one|noone|never) (?:ever )?(?:asked|told|informed|consulted|explained)`)

	// proxyPhrases: written for someone else, often someone who cannot
	// use email: a parent with dementia, a person the writer cares for or
	// holds a lasting power of attorney for, a child.
	proxyPhrases = table(false,
		`on (?:behalf|behalve) of`, `for (?:my|our) (?:elderly |late |disabled |adult |young |two |three )?`+relative,
		`(?:my|our) (?:elderly |disabled |adult )?`+relative+` (?:has|have|is|are|was|cannot|can't|can not|doesn't|does not|lives|would|wants|asked)`,
		`(?:opt|opting|remove|include) (?:him|her|them|my \w+|our \w+) (?:out|back in)`,
		`power of attorney`, `\blpa\b`, `attorney`, `court of protection`, `deputy(?:ship)?`, `guardian(?:ship)?`,
		`dementia`, `alzheimer'?s?`, `(?:lacks?|has no|does not have|doesn't have|without) (?:the )?(?:mental )?capacity`,
		`learning disabilit(?:y|ies)`, `next of kin`, `(?:i am|i'm|im|as) (?:a |his |her |their |the )?(?:carer|caregiver|care giver|guardian)`,
		`(?:i|we) (?:care for|look after|support) (?:my|our|him|her|them)`,
		`(?:he|she|they) (?:cannot|can't|can not|is unable to|are unable to|doesn't|does not|don't|do not|has no|have no) (?:use |have |read |access )?(?:an? )?(?:e ?mail|computer|internet|smartphone|phone)`,
		`(?:his|her|their) behalf`, `(?:opt|opting|remove|include)(?: out| back in)? (?:my|our) (?:\w+ )?`+relative, `(?:deceased|passed away|died)`)

	// formatPhrases: another way or format (paper, large print, braille,
	// a screen reader that cannot use the PDF, easy read, audio) or another
	// language, or no way to use email, print or scan.
	formatPhrases = table(false,
		`paper (?:copy|form|version|forms)`, `(?:post|send|mail) (?:me |us |him |her )?(?:a |the )?(?:paper |printed |hard )?(?:copy|form|one) (?:by|in the|through the) post`,
		`(?:send|post|mail) (?:it|one|them|this|that|everything) (?:to (?:me|us|him|her) )?by (?:post|letter)`, `(?:form|copy|leaflet|letter) by post`, `(?:postal|posted) (?:form|copy)`, `printed (?:copy|form|version)`, `hard ?copy`,
		`large (?:print|font|text)`, `bigger (?:print|font|text)`, `braille`, `screen ?reader`, `jaws`, `nvda`, `voiceover`,
		`(?:i am|i'm|im|he is|she is|is) (?:registered )?(?:blind|partially sighted|visually impaired|deaf|hard of hearing|sight impaired)`,
		`(?:blind|partially sighted|visually impaired|sight loss|deaf)`,
		`(?:can't|cannot|can not|unable to|not able to|couldn't|could not) (?:open|read|use|access|see|fill|fill in|complete|download|print|scan|edit|type (?:in|into)) (?:the |a |this |your )?(?:pdf|form|attachment|document|file|it)`,
		`(?:don't|do not|doesn't|does not) (?:have|own) (?:a |an )?(?:printer|scanner|computer|laptop|smartphone|email)`,
		`no (?:printer|scanner|computer|internet|email address)`,
		`(?:not|no) (?:good|confident) (?:with|at|using) (?:computers?|technology|e ?mail|the internet)`,
		`(?:can't|cannot|can not|unable to|don't|do not) use (?:e ?mail|a computer|computers|the internet)`,
		`easy ?read`, `audio (?:version|format|copy)`, `accessible (?:format|version|form)`, `another format`, `different format`, `alternative format`,
		`sign language`, `\bbsl\b`, `interpreter`, `translat(?:e|ed|ion|or)`, `another language`, `other languages?`, `my (?:first )?language`,
		`(?:speak|speaks|read|reads|write|writes) (?:only |little |no |very little )?(?:english|polish|spanish|bengali|bangla|turkish|somali|arabic|urdu|portuguese|romanian|greek|french|italian|albanian|kurdish|tamil|gujarati|punjabi|chinese|cantonese|mandarin|farsi|russian|ukrainian)`,
		`(?:english is not|not speak english|no english|little english)`,
		`(?:phone|call|ring|telephone) (?:me|us|him|her) (?:instead|rather)`, `by (?:phone|telephone)`)

	// rightsPhrases: a request under UK GDPR (access, erasure,
	// rectification, objection by name) or the Freedom of Information Act:
	// answered within one calendar month.
	rightsPhrases = table(false,
		`subject access(?: request)?`, `\bsar\b`, `\bdsar\b`, `access request`, `freedom of information`, `\bfoi\b`,
		`(?:a |full |complete )?cop(?:y|ies) of (?:all )?(?:my|his|her|our|the) (?:\w+ )?(?:records?|data|information|notes|file|details)`,
		`(?:(?:want|like|wish|request|asking|ask|need|able) to|(?:can|could|may) (?:i|we)) (?:see|access|view|read|obtain|get|have) (?:all )?(?:of )?(?:my|his|her) (?:own )?(?:\w+ )?(?:records?|data|notes|file)`,
		`what (?:personal )?(?:data|information) (?:do )?you (?:hold|have|keep|store)`,
		`(?:everything|anything|all|whatever|what) (?:that )?you (?:hold|have|keep|store) (?:on|about) (?:me|him|her|us|them|my \w+)`,
		`(?:delete|erase|destroy|wipe|purge) (?:all |any )?(?:of )?(?:my|his|her|our|the|this) (?:\w+ )?(?:\w+ )?(?:records?|data|information|details|notes|file|history)`,
		`(?:delete|erase|wipe) (?:me|him|her|it|them)`, `(?:deleted|erased|destroyed|wiped)`,
		`right to (?:erasure|be forgotten|rectification|access|object|restrict)`, `erasure`,
		`(?:correct|amend|rectify|fix|change) (?:my|his|her|the) (?:\w+ )?(?:records?|data|details|information|entry|notes)`,
		`(?:records?|data|details|information|notes) (?:is|are|was|were|has|have) (?:\w+ )?(?:wrong|incorrect|inaccurate|out of date|mistaken|an error)`,
		`(?:wrong|incorrect|inaccurate) (?:\w+ )?(?:on|in) (?:my|his|her) (?:\w+ )?(?:records?|notes|file)`,
		`rectif(?:y|ication)`, `\bgdpr\b`, `data protection act`, `article (?:12|15|16|17|18|21)`)

	// optBackInPhrases: opting back in, withdrawing or cancelling an
	// opt-out, changing one's mind (issue 11 item 2). Negatable: "I do not
	// want to opt back in" is not a request to.
	optBackInPhrases = table(true,
		`opt(?:ing|ed)? (?:me |myself |us |him |her |them |my \w+ )?back (?:in|into|on)`, `opt(?:ing)? in again`, `back in(?:to)? the (?:\w+ )?(?:care )?record`,
		`re ?join(?:ing)?`, `join (?:it |the \w+ (?:\w+ )?record )?again`, `re ?enrol(?:l)?`, `re ?instate(?:d)?`, `re ?include(?:d)?`,
		`(?:withdraw|cancel|reverse|undo|revoke|retract|rescind|stop|remove|drop) (?:my |the |our |his |her |this |that )?(?:previous |earlier |recent )?(?:opt ?out|opting out|objection|request to opt out)`,
		`(?:change|changed|changing) (?:my|our|his|her) minds?`, `change of (?:heart|mind)`,
		`no longer (?:want|wish|need) (?:to )?(?:be )?opt(?:ed)? ?out`, `(?:want|like|wish) to be (?:included|part of it|in it|back)`,
		`(?:included|part of the record) again`, `include (?:me|us|him|her|them|my \w+) (?:in|into|back)`, `opt(?:ed)? back`)

	// statusPhrases: a chase about a form or request already sent.
	statusPhrases = table(false,
		`did you (?:get|receive|have|see) (?:my|the|our|it|this|that)`, `(?:have|has) (?:you|anyone|somebody|someone) (?:got|received|had|seen) my`,
		`(?:i|we) (?:sent|emailed|submitted|returned|posted|replied with|attached) (?:my|our|the|in|off|you|back)`,
		`(?:i|we) (?:already|have already|previously|recently) (?:sent|emailed|submitted|returned|filled in|completed|opted)`,
		`(?:heard|had) (?:nothing|no reply|no response|no answer|no word)`, `(?:not|haven't|have not|hasn't|has not|never) heard`,
		`(?:no|not (?:had|received|got) (?:a|an|any)|never (?:got|received|had) (?:a|an|any)|still (?:no|not had|waiting for)) (?:reply|response|answer|confirmation|acknowledge?ment|receipt|email)`,
		`still waiting`, `(?:just )?checking (?:that |whether |if )?(?:my|you|the|it)`, `(?:form|request|email|opt ?out) (?:was|has been|had been|got) (?:received|processed|recorded|through)`, `chas(?:e|ing)`, `follow(?:ing)? ?up`,
		`(?:sent|emailed|submitted|returned|posted|attached|wrote|written|replied|contacted|rang|called|phoned|asked|opted out)(?: \S+){0,5} (?:(?:weeks?|months?|days?) ago|last (?:week|month))`,
		`(?:weeks?|months?|days?) ago (?:i|we) (?:sent|emailed|submitted|returned|posted|wrote|replied|contacted|rang|called|asked)`,
		`any (?:update|news|progress)`, `(?:an )?update on`,
		`(?:is|has|was) (?:my|our|the) (?:opt ?out|form|request|application) (?:been )?(?:processed|recorded|done|received|completed?|accepted|through|gone through)`,
		`(?:confirm|confirmation) (?:that )?(?:you|my|it|the|of my)`, `(?:been|was) (?:processed|recorded)`)

	// questionPhrases: a question asked without a question mark, or a wish
	// to talk to someone. Sentences with "?" that are not a plain request,
	// and sentences no table accounts for, count as questions too.
	questionPhrases = table(false,
		`(?:i'd|i would|we would|we'd) like to (?:know|understand|ask|find out|speak|talk|discuss)`, `(?:i|we) want to (?:know|understand|ask|find out|speak|talk)`,
		`can you (?:tell|explain|clarify) (?:me )?(?:what|who|why|how|if|whether|about)`, `(?:please|kindly) (?:tell|explain|clarify) (?:me )?(?:what|who|why|how|if|whether|about)`,
		`i (?:wonder|was wondering|am wondering|'m wondering)`, `wondering`,
		`what (?:happens|will happen|would happen|information|data|is|are|does|do|exactly|if|about|kind|type|sort)`,
		`who (?:can|will|has|is|are|sees|gets|decides|would)`, `how (?:long|much|many|does|will|is|are|would|often|secure|safe|exactly)`,
		`why`, `when (?:will|would|does|is|can)`, `is it (?:true|safe|secure|compulsory|mandatory)`, `(?:do|does) (?:i|this|it|opting) (?:have to|need to|affect|mean|apply|cover)`,
		`(?:i|we) (?:don't|do not|didn't|did not) understand`, `(?:not|un) ?sure`, `undecided`, `(?:not|haven't|have not) (?:yet )?decided`, `confused`,
		`(?:speak|talk) to (?:someone|somebody|a person|a human|a member|you)`, `(?:call|phone|ring|telephone) (?:me|us)`,
		`(?:i|we) (?:have|'ve got|have got) (?:a |some |few |a few |another )?(?:questions?|queries|query)`, `questions?`, `quer(?:y|ies)`, `enquir(?:y|ies)`, `inquir(?:y|ies)`,
		`more (?:information|details|info) (?:about|on)`, `explain`, `advice`, `difference between`,
		`mental health`, `sexual health`, `research`, `national (?:data )?opt ?out`, `if (?:i|we|you) (?:opt|decide|choose|don't|do not)`, `(?:my|the) (?:hospital|doctor|gp|consultant) (?:can|will)`)
)

// Tables for what a plain request asks: to opt out, to be contacted, for the form.
var (
	// optOutPhrases name opting out (present or future, not "I opted out
	// last year"). Negatable: "I do not want to opt out yet".
	optOutPhrases = table(true,
		`opt(?:ing)? (?:me |myself |us |ourselves |him |her |them |my \w+ |our \w+ )?out`, `(?:remove|take off|exclude) (?:me|us|myself)(?: please)?$`, `optout`, `opt out`,
		`(?:be|get|have me|have us|being) opted out`,
		`(?:don't|do not|dont) (?:want|wish) (?:my|our|me|any of my|any) (?:\w+ )?(?:\w+ )?(?:\w+ )?(?:to be )?(?:shared|sharing|included|on|in|part)`,
		`(?:don't|do not|dont) share my`, `(?:not|never) (?:to )?(?:be )?shared`,
		`(?:remove|take|exclude|withdraw) (?:me|myself|us|my \w+(?: \w+)?) (?:from|out of|off)`,
		`(?:withdraw|refuse|remove) (?:my )?consent`, `(?:i|we) object to`, `stop (?:sharing|my (?:data|information|records?) being shared)`,
		`(?:removed|excluded|taken off|taken out) (?:from|of)`, `no longer (?:want|wish) (?:my|to be|to have)`)

	// contactPhrases ask the team to get in touch (step 2 of the leaflet).
	contactPhrases = table(false,
		`(?:contact|email|e mail|get in touch with|reach|reply to|write to|message) (?:me|us)`, `be contacted`,
		`(?:send|email|e mail) (?:me|us) (?:a |the )?(?:secure|encrypted) (?:e ?mail|message|link)`,
		`(?:request|requesting|ask for|asking for) (?:a |the )?(?:secure|encrypted) (?:e ?mail|message)`, `secure (?:e ?mail|message)`,
		`step (?:2|two)`, `(?:the )?next steps?`, `(?:get|be) in touch`)

	// formPhrases ask for the form or where it is.
	formPhrases = table(false,
		`(?:send|email|e mail|forward|give|post) (?:me|us) (?:a |the |an )?(?:copy of the )?(?:\w+ ){0,2}(?:form|forms|paperwork)`,
		`(?:can|could|may) (?:i|we) (?:have|get|please have|please get) (?:a |the |an )?(?:opt ?out |optout )?form`,
		`where (?:is|can i (?:find|get|download)|do i (?:find|get)) (?:the|a|an) (?:opt ?out |optout )?form`,
		`(?:need|want|like|request|requesting) (?:a |the |an )?(?:copy of the )?(?:opt ?out |optout )?form`)

	// contact: "could you send it to me" (the form, the secure email).
	sendItPhrases = table(false, `send (?:it|one|this|that|them) (?:to )?(?:me|us)`)

	// formMentions name the form without asking for it ("the opt-out
	// form"): enough for a plain sentence, not a request on their own.
	// "Please find my form attached" (the form was not found: no_form).
	formMentions = table(false, `(?:opt ?out|optout) form`, `the form`, `(?:find|attached|attach|enclosed|here is|here's) (?:is )?(?:my|our|his|her) (?:completed |filled in |signed )?form`)
)

// nextSteps is "what do I need to do?" and its kin: in a message that asks
// to opt out it asks for the next steps (a plain request, answered by the
// instructions), not a question the instructions leave open. Read
// rewrites it to "next steps" (a contact phrase) before the tables run, so
// the question table's "what do…" and "please tell me what…" do not take it.
var nextSteps = regexp.MustCompile(`\b(?:(?:please |kindly |can you |could you )?(?:tell|let) me (?:know )?)?what (?:do|should|must|shall) (?:i|we) (?:need to |have to )?do(?: next| now| to opt out)?\b|\b(?:(?:please |kindly |can you |could you )?(?:tell|let) me (?:know )?)what (?:i|we) (?:need to|have to|should|must) do(?: next| now| to opt out)?\b|\bhow do (?:i|we) (?:do|go about) (?:this|that|it)\b`)

// requestCue, in the same clause before an opt-out phrase, makes it a
// request ("I would like to opt out", "how do I opt her out", "please").
var requestCue = regexp.MustCompile(`\b(?:want|wants|wanting|wish|wishes|like|love|request|requesting|ask|asking|please|pls|plz|kindly|need|needs|can i|could i|may i|can we|could we|how do|how can|how to|help|decided|decide|intend|going to|plan|planning|would|i'd|we'd|hereby|let me|allow me|(?:a|another|other|any) way to)\b`)

// imperativeOptOut is an opt-out phrase that is a request by itself.
var imperativeOptOut = regexp.MustCompile(`^(?:please |kindly |can you |could you |would you )?(?:opt|remove|take|exclude) (?:me|us|myself)\b|\b(?:don't|do not|dont) (?:want|wish)\b|\b(?:i|we) object to\b|\b(?:withdraw|refuse) (?:my )?consent\b|^opt(?:ing)? ?out\b`)

// negators are the words that, among the few before a negatable phrase in
// its clause, cancel it.
var negators = map[string]bool{
	"not": true, "never": true, "don't": true, "dont": true, "didn't": true, "didnt": true, "doesn't": true,
	"doesnt": true, "won't": true, "wont": true, "no": true, "nor": true, "without": true, "longer": true,
	"haven't": true, "havent": true, "hasn't": true, "isn't": true, "aren't": true, "wasn't": true, "shouldn't": true,
	"wouldn't": true, "against": true, "whether": true,
}

// negationWindow is how many words before a negatable phrase are looked at.
const negationWindow = 4

// fillerPhrases are whole sentences that are part of a plain request
// without asking anything: greetings, thanks, details about the sender,
// having read the leaflet. Each must match the whole sentence.
var fillerPhrases = func() []*regexp.Regexp {
	ps := []string{
		`(?:hi|hello|hey|hiya|dear|good (?:morning|afternoon|evening|day)|greetings|morning|afternoon)(?: \S+){0,2}`,
		`(?:hi|hello|hey|dear|good (?:morning|afternoon|evening|day))(?: ,)?(?: (?:the|ncl|icb|nhs|london|care|record|joined|up|opt|out|optout|team|sir|madam|or|data|protection|officer|privacy|information|governance|there|all|everyone|colleagues|to|whom|it|may|concern))+`,
		`to whom it may concern`, `dear sir(?: or| )?(?:madam)?`,
		`(?:many |big )?(?:thanks|thank you|thankyou|ta|cheers)(?: (?:very|so) much)?(?: (?:in advance|for your (?:help|time|assistance|attention)|for the leaflet|for reading))?(?: in advance)?`,
		`(?:much appreciated|appreciate it|i appreciate your help|i (?:look|am looking) forward to (?:hearing from you|your (?:reply|response|email))(?: soon)?|hope (?:you are|you're) well|i hope this (?:email )?finds you well)`,
		`(?:i am|i'm|im) (?:a )?(?:resident|patient|registered|living|based) (?:in|of|at|with)(?: \S+){1,6}`,
		`(?:i am|i'm|im) (?:writing|emailing|contacting you)(?: \S+){0,12} (?:leaflet|letter|record|care record)`,
		`(?:i|we) (?:have|'ve|ve)? ?(?:read|received|seen|had|got) (?:the|your|a|this) (?:leaflet|letter|information|flyer|booklet)(?: \S+){0,12}`,
		`(?:i|we) (?:have|'ve)? ?(?:read|understand|understood) (?:the|your) (?:consequences|leaflet|information)(?: \S+){0,10}`,
		`(?:i|we) (?:have not|haven't|havent) changed (?:my|our) minds?(?: \S+){0,6}`,
		`(?:please|ok|okay|yes|regards|best wishes|kind regards|sincerely|yours sincerely|yours faithfully|many thanks)`,
		`(?:re|fw|fwd|subject)(?: \S+){0,8}`,
		`(?:my|our|the) (?:details|information|particulars) (?:are|is) (?:below|above|attached|as follows|here)`,
	}
	out := make([]*regexp.Regexp, len(ps))
	for i, p := range ps {
		out[i] = regexp.MustCompile(`^(?:` + p + `)$`)
	}
	return out
}()

// detailPhrase matches a detail about the sender ("My NHS number is 943
// 476 5919", "DOB: 14/03/1978", "I live at 2 Example Road"): the detail
// (group 1) must be made of numbers, words the resident capitalised, and
// detailWords, so "my GP is useless and shared everything" is not one.
var detailPhrase = regexp.MustCompile(`^(?:(?:my|our|his|her) )?(?:nhs (?:number|no)|date of birth|dob|d o b|(?:(?:i )?was )?born(?: on| in)?|post ?code|(?:postal |home )?address|gp(?: practice| surgery)?|surgery|doctor|practice|e ?mail(?: address)?|phone(?: number)?|mobile(?: number)?|telephone(?: number)?|tel|full name|name|first name|last name|surname|my name is|reference(?: number| code)?|ref|(?:i )?live (?:at|in))(?: (?:number|no))?(?: is| are)?(?: :)?((?: \S+){1,14})$`)

// detailWords may stand in a detail besides numbers and capitalised words.
var detailWords = wordSet(`the at of on in and road street avenue lane close way drive gardens grove place square flat house
surgery practice medical centre center health clinic group partnership london dr mr mrs ms miss st - , :`)

// clauseWord is a word that joins a second statement to a sentence: a
// sentence with one is filler only when each of its clauses is.
var clauseWord = regexp.MustCompile(` (?:but|however|although|because|so|and i|and we|and my|and it|and they) `)

// plainVocabulary are the words a plain request is made of besides its
// opt-out, contact or form phrase; a sentence with such a phrase is still a
// plain one when at most maxStrayWords of its words are outside this list
// (a name, a borough). More would mean it says something else too.
var plainVocabulary = wordSet(`i i'd i'm i've id im ive we we'd we're me my myself us our ourselves you your you're the a an to of from for in on at
with and or but please pls plz kindly would could can will shall may might like love want wanted wants wish wishes wanting need needs
request requesting requested ask asking asked am is are be been being have has had get got do does this that it its it's
opt opting opted out optout opt-out form forms london care record records joined up joined-up shared sharing share health healthcare
social data information info details personal medical electronic nhs ncl north central icb integrated board team programme scheme
system database contact contacted contacting email e mail emailed emailing send sent secure securely encrypted message messages
back hi hello dear thanks thank many regards sir madam so just also as per leaflet letter step two 2 now soon possible asap there
here know let how where find copy remove removed myself include included not don't dont part local area borough camden barnet
enfield haringey islington family all any each every wife husband partner kind sincerely yours faithfully best wishes instructions
further writing write written reply get touch through via by way steps next link online website process complete completed
fill filled return returned do no longer consent withdraw object objection hereby formally formal decided decision choose chosen
option sharing use used same again too today hoping hope my thanks thank you regard whole entire shared patient patients resident
residents registered person people good morning afternoon evening gp surgery practice doctor told advised address below details`)

// maxStrayWords: see plainVocabulary. A sentence that asks ("?") may have
// only maxStrayWordsAsked: "Can I opt out?" is a plain request, "If I opt out
// will my data still be used for research?" is a question.
const (
	maxStrayWords      = 4
	maxStrayWordsAsked = 1
)

// maxPlainWords: a plain request is short; longer own words go to a person.
const maxPlainWords = 120

// englishWords are common English function words, used to notice a message
// written in another language: in English prose they are a third or more of
// the words; in Spanish, Polish, Turkish or Somali almost none. Words
// English shares with those languages ("a", "i", "no", "me", "do", "to",
// "on") are left out.
var englishWords = wordSet(`the and of my you your would like please want with for have has that this it is am are was were be been
not will can could should from about what how who why when where we our they their he she her his him thank thanks hello hi dear
regards kind if but or at by an any all there which just also know need get send out yes did does don't i'm i'd i've it's can't
cannot wish hope received sent form record data information shared sharing mother father wife husband daughter son`)

// domainWords are left out when measuring the share of English words:
// names of places and of the record appear in any language.
var domainWords = wordSet(`london care record nhs ncl gp icb opt optout out camden barnet enfield haringey islington joined up
north central uk email e mail pdf ok okay`)

// nonEnglish thresholds: at least minLanguageWords words (after leaving out
// domainWords and numbers) of which under minEnglishShare are englishWords,
// or more than maxOtherScript of the letters outside the Latin script.
const (
	minLanguageWords = 4
	minEnglishShare  = 0.15
	maxOtherScript   = 0.3
)
