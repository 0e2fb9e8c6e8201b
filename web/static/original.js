// The item page's viewer for originals: zoom and rotate images, draw PDF
// pages with pdf.js (served from our own origin). Without this script the
// image is shown at the column's width and the PDF is a link.
const images = document.querySelectorAll('.original-image');
for (const fig of images) {
  const img = fig.querySelector('img');
  const tools = fig.querySelector('.image-tools');
  if (!img || !tools) continue;
  let zoom = 1, turn = 0;
  const apply = () => {
    const base = fig.querySelector('.image-frame').clientWidth;
    if (zoom === 1 && turn % 180 === 0) {
      img.classList.remove('zoomed');
      img.style.width = '';
    } else {
      img.classList.add('zoomed');
      img.style.width = Math.round(base * zoom) + 'px';
    }
    img.style.transform = turn ? 'rotate(' + turn + 'deg)' : '';
    // A quarter turn swaps width and height: leave room for it.
    img.style.margin = turn % 180 ? Math.round((img.width - img.height) / 2) + 'px 0' : '';
  };
  tools.hidden = false;
  tools.addEventListener('click', (ev) => {
    const b = ev.target.closest('button');
    if (!b) return;
    if (b.dataset.zoom === 'in') zoom = Math.min(zoom * 1.5, 8);
    if (b.dataset.zoom === 'out') zoom = Math.max(zoom / 1.5, 0.5);
    if (b.dataset.zoom === 'reset') { zoom = 1; turn = 0; fig.querySelector('.image-frame').scrollTo(0, 0); }
    if (b.dataset.rotate) turn = (turn + 90) % 360;
    apply();
  });
}

const pdfs = document.querySelectorAll('.pdf-view[data-src]');
if (pdfs.length) {
  const here = new URL(import.meta.url);
  const pdfjs = await import(new URL('pdfjs/pdf.min.mjs', here).href);
  pdfjs.GlobalWorkerOptions.workerSrc = new URL('pdfjs/pdf.worker.min.mjs', here).href;
  for (const view of pdfs) {
    try {
      const doc = await pdfjs.getDocument({ url: view.dataset.src, isEvalSupported: false, disableFontFace: true, withCredentials: true }).promise;
      const pages = Math.min(doc.numPages, 30);
      const fallback = view.querySelector('.pdf-fallback');
      for (let n = 1; n <= pages; n++) {
        const page = await doc.getPage(n);
        const vp = page.getViewport({ scale: 2 });
        const canvas = document.createElement('canvas');
        canvas.width = vp.width;
        canvas.height = vp.height;
        canvas.setAttribute('role', 'img');
        canvas.setAttribute('aria-label', 'Page ' + n + ' of ' + doc.numPages);
        view.insertBefore(canvas, fallback);
        await page.render({ canvasContext: canvas.getContext('2d'), viewport: vp }).promise;
      }
      view.dataset.pages = String(doc.numPages);
      if (fallback) fallback.firstChild.textContent = doc.numPages > pages ? 'The first ' + pages + ' pages are shown. ' : 'All pages are shown. ';
    } catch (e) {
      view.dataset.error = 'yes';
    }
  }
}
