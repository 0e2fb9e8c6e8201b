package intake

import (
	"slices"
	"testing"

	"github.com/ncl-icb/optout-intake/vocab"
)

// TestPhotoOfFormGetsReceiptAndTriage: a resident who photographs the
// paper form and sends the picture did what was asked: they get the
// receipt, not "we could not find a form", and staff get the photo to key
// the form in. A small signature image is still no form.
func TestPhotoOfFormGetsReceiptAndTriage(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	svc := r.service(nil)
	ins := firstContact(t, r, svc, residentAddr)

	photo := replyTo(ins, residentAddr, "")
	photo.attName, photo.att = "IMG_2041.JPG", fixture("phone-photo.jpg")
	if len(photo.att) < 16<<10 {
		t.Fatalf("test photo is %d bytes: too small to pass for a photo", len(photo.att))
	}
	r.deliver(photo.bytes())
	once(t, svc)
	if k := kinds(r.sent()); k["receipt"] != 1 || k["no_form"] != 0 || k["instructions"] != 1 {
		t.Errorf("sent %v, want the instructions then one receipt and no no_form", k)
	}
	if tri := r.openTriage(); !slices.Equal(tri, []vocab.Reason{vocab.ReasonPhotoOfForm}) {
		t.Errorf("open triage %v, want one photo_of_form", tri)
	}
	if got := r.count("Triage"); got != 1 {
		t.Errorf("Triage folder holds %d, want 1", got)
	}
	if got := r.attachments(); got != 1 {
		t.Errorf("attachments kept for staff = %d, want the photo", got)
	}
	if ref := r.sent()[1].ref(); ref != ins.ref() {
		t.Errorf("receipt reference %q, want the conversation's %q", ref, ins.ref())
	}

	// Another resident's reply with only a signature logo is no form.
	ins2 := firstContact(t, r, svc, otherAddr)
	logo := replyTo(ins2, otherAddr, "")
	logo.attName, logo.att = "image001.png", fixture("phone-photo.jpg")[:4<<10]
	r.deliver(logo.bytes())
	once(t, svc)
	sent := r.sent()
	if last := sent[len(sent)-1].kind(); last != "no_form" {
		t.Errorf("reply with a signature image got %q, want no_form", last)
	}
}
