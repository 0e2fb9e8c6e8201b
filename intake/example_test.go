package intake_test

import (
	"fmt"

	"github.com/ncl-icb/optout-intake/extract"
	"github.com/ncl-icb/optout-intake/extract/form"
	"github.com/ncl-icb/optout-intake/intake"
	"github.com/ncl-icb/optout-intake/vocab"
)

// Decide is pure: a reply in a known thread carrying one valid form gets one
// email, the outcome (which confirms the form was received), and its form is
// recorded.
func ExampleDecide() {
	plan := intake.Decide(intake.Input{
		Kind:          extract.KindSubmission,
		Forms:         []form.Form{{Source: "form.pdf", Valid: true}},
		HasSender:     true,
		Conv:          &intake.Conversation{Ref: "NCL-7K3Q-9XWD", State: vocab.StateInstructionsSent},
		Match:         intake.MatchToken,
		SenderIsOwner: true,
	})
	fmt.Println(plan.Folder, plan.Action, len(plan.Submissions))
	for _, e := range plan.Emails {
		fmt.Println(e.Kind)
	}
	for _, s := range plan.Submissions {
		fmt.Println(s.Accepted.Kind) // or Duplicate, as the register answers
	}
	// Output:
	// processed forms 1
	// accepted
}
