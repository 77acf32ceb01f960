// Record from the microphone with MediaRecorder. The library accepts MP3,
// M4A/AAC, WAV, FLAC and OGG: a recording in one of those goes up as it is;
// WebM (what Chromium records) is decoded in the browser and sent as WAV.

import { field, formatDuration, h, statusLine } from "./dom.js";

const KEEP_AS_IS = [
  ["audio/ogg;codecs=opus", "ogg"],
  ["audio/mp4", "m4a"],
];
const MONO_RATE = 22050;

export function recorderPanel(save) {
  const start = h("button", { type: "button" }, h("span", { class: "rec-dot", "aria-hidden": "true" }), "Start recording");
  const stopButton = h("button", { type: "button", class: "danger", hidden: true }, "Stop recording");
  const time = h("span", { class: "rec-time", "aria-live": "off" }, "0:00");
  const status = statusLine();
  const preview = h("audio", { controls: true, hidden: true, "aria-label": "Listen to the recording" });
  const title = h("input", { type: "text", maxlength: 200 });
  const titleField = field("Title of the recording", title);
  const keep = h("button", { type: "button" }, "Save to library");
  const discard = h("button", { type: "button", class: "secondary" }, "Discard");
  const after = h("div", { class: "stack", hidden: true }, preview, titleField.wrap, h("div", { class: "row" }, keep, discard));
  let recorder = null;
  let stream = null;
  let chunks = [];
  let timer = null;
  let blob = null;
  let type = "";

  function tidy() {
    if (timer) window.clearInterval(timer);
    timer = null;
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
  }

  start.addEventListener("click", async () => {
    status.clear();
    if (!window.MediaRecorder || !navigator.mediaDevices) {
      status.error("This browser cannot record audio. Try a recent Chrome, Firefox, Edge or Safari.");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      status.error(err && err.name === "NotAllowedError"
        ? "The browser was not allowed to use the microphone. Allow it in the address bar's site settings, then try again."
        : `No microphone could be used: ${err.message || err}`);
      return;
    }
    const chosen = KEEP_AS_IS.find(([mime]) => MediaRecorder.isTypeSupported(mime));
    recorder = new MediaRecorder(stream, chosen ? { mimeType: chosen[0] } : {});
    type = recorder.mimeType || (chosen ? chosen[0] : "");
    chunks = [];
    recorder.addEventListener("dataavailable", (e) => { if (e.data.size) chunks.push(e.data); });
    recorder.addEventListener("stop", () => {
      tidy();
      blob = new Blob(chunks, { type });
      preview.src = URL.createObjectURL(blob);
      preview.hidden = false;
      after.hidden = false;
      title.value = `Recording ${new Date().toLocaleString()}`;
      start.hidden = false;
      stopButton.hidden = true;
      title.focus();
    });
    const began = Date.now();
    time.textContent = "0:00";
    timer = window.setInterval(() => { time.textContent = formatDuration((Date.now() - began) / 1000); }, 250);
    recorder.start(1000);
    start.hidden = true;
    stopButton.hidden = false;
    after.hidden = true;
    stopButton.focus();
    status.info("Recording… press Stop recording when you are done.");
  });

  stopButton.addEventListener("click", () => {
    if (recorder && recorder.state !== "inactive") recorder.stop();
    status.clear();
  });

  discard.addEventListener("click", () => reset());

  function reset() {
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.removeAttribute("src");
    blob = null;
    after.hidden = true;
    time.textContent = "0:00";
    start.focus();
  }

  keep.addEventListener("click", async () => {
    if (!blob) return;
    keep.disabled = true;
    try {
      status.info("Preparing the recording…");
      const file = await asAcceptedFile(blob, type);
      status.clear();
      await save(file, title.value.trim() || "Recording");
      reset();
    } catch (err) {
      status.error(`The recording could not be prepared: ${err.message || err}`);
    } finally {
      keep.disabled = false;
    }
  });

  const el = h("details", { class: "panel" }, h("summary", {}, "Record from the microphone"),
    h("div", { class: "row" }, start, stopButton, time), status.el, after);
  return {
    el,
    stop() {
      if (recorder && recorder.state !== "inactive") recorder.stop();
      tidy();
    },
  };
}

async function asAcceptedFile(blob, type) {
  const kept = KEEP_AS_IS.find(([mime]) => type.startsWith(mime.split(";")[0]));
  if (kept) return new File([blob], `recording.${kept[1]}`, { type: kept[0].split(";")[0] });
  const decoded = await new AudioContext().decodeAudioData(await blob.arrayBuffer());
  const frames = Math.ceil(decoded.duration * MONO_RATE);
  const offline = new OfflineAudioContext(1, Math.max(1, frames), MONO_RATE);
  const source = offline.createBufferSource();
  source.buffer = decoded;
  source.connect(offline.destination);
  source.start();
  const mono = (await offline.startRendering()).getChannelData(0);
  return new File([wav(mono, MONO_RATE)], "recording.wav", { type: "audio/wav" });
}

/** 16-bit PCM WAV of mono samples in [-1, 1]. */
function wav(samples, rate) {
  const buffer = new ArrayBuffer(44 + samples.length * 2);
  const view = new DataView(buffer);
  const text = (at, s) => { for (let i = 0; i < s.length; i++) view.setUint8(at + i, s.charCodeAt(i)); };
  text(0, "RIFF");
  view.setUint32(4, 36 + samples.length * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return buffer;
}
