// Workspace settings: the voice that narrates videos when a video names none.

import { html, useEffect, useState } from "./vendor/preact-htm.mjs";
import { get, put } from "./api.js";
import { ErrorBox, Field, Loading, Page, useLoad } from "./ui.js";

const EMPTY = { language: "", voice: "", speed: "" };

// The form's fields as the API takes them: blank fields are left out, no field at all is
// no default.
export function narrationOf(form) {
  const n = {};
  if (form.language.trim()) n.language = form.language.trim().toLowerCase();
  if (form.voice.trim()) n.voice = form.voice.trim();
  if (String(form.speed).trim()) n.speed = Number(form.speed);
  return Object.keys(n).length ? n : null;
}

// Language, voice and speed inputs; `prefix` keeps their ids unique on a page.
export function NarrationFields({ form, setForm, prefix, blank }) {
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  return html`<${Field} id=${prefix + "-language"} label="Language" hint=${"A lower-case tag: en-us, en-gb, es, pt-br. " + blank}>
      <input id=${prefix + "-language"} maxlength="12" pattern="[a-zA-Z\\-]{2,12}" value=${form.language} aria-describedby=${prefix + "-language-hint"} onInput=${set("language")} />
    <//>
    <${Field} id=${prefix + "-voice"} label="Voice" hint=${"The engine's name for it: Joanna or Lucia (Amazon Polly), en-gb (espeak-ng). " + blank}>
      <input id=${prefix + "-voice"} maxlength="64" pattern="[A-Za-z0-9_+\\-]{1,64}" value=${form.voice} aria-describedby=${prefix + "-voice-hint"} onInput=${set("voice")} />
    <//>
    <${Field} id=${prefix + "-speed"} label="Speed" hint=${"0.5 to 2.0; 1 is the voice's normal pace. " + blank}>
      <input id=${prefix + "-speed"} type="number" min="0.5" max="2" step="0.05" value=${form.speed} aria-describedby=${prefix + "-speed-hint"} onInput=${set("speed")} />
    <//>`;
}

export function Settings() {
  const current = useLoad(() => get("/v1/settings"));
  const [form, setForm] = useState(EMPTY);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  useEffect(() => {
    const n = current.data && current.data.narration;
    if (n) setForm({ language: n.language || "", voice: n.voice || "", speed: n.speed == null ? "" : String(n.speed) });
  }, [current.data]);
  const save = async (narration) => {
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      const s = await put("/v1/settings", narration ? { narration } : {});
      if (!s.narration) setForm(EMPTY);
      setSaved(s.narration ? "Saved. New videos are narrated this way unless they say otherwise." : "Cleared. New videos use the voice's own defaults.");
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e) => {
    e.preventDefault();
    save(narrationOf(form));
  };
  if (current.error) return html`<${Page} title="Settings"><${ErrorBox} error=${current.error} retry=${current.reload} /><//>`;
  if (!current.data) return html`<${Page} title="Settings"><${Loading} lines=${5} /><//>`;
  return html`<${Page} title="Settings">
    <form class="card" onSubmit=${submit}>
      <h2>Narration</h2>
      <p class="muted">How storyboard videos are narrated when a video does not say. A video made with its own narration keeps it; videos already made keep theirs.</p>
      <${NarrationFields} form=${form} setForm=${setForm} prefix="narration" blank="Blank: the voice's default." />
      <div class="actions">
        <button type="submit" class="primary" disabled=${busy}>${busy ? "Saving…" : "Save"}</button>
        <button type="button" disabled=${busy} onClick=${() => save(null)}>Clear the default</button>
      </div>
      ${saved ? html`<p class="notice ok" role="status">${saved}</p>` : null}
      <${ErrorBox} error=${error} />
    </form>
  <//>`;
}
