// Publishing a finished video to one connected account. For TikTok it follows TikTok's
// required posting experience (their audit checks it): the creator's name and avatar, a stop
// when TikTok says they cannot post, the length checked against their longest, a privacy the
// user picks from their options with none preselected, comment/duet/stitch switches (off and
// greyed where the creator turned them off), the commercial-content disclosure, a preview and
// an explicit consent line.

import { html, useRef, useState } from "./vendor/preact-htm.mjs";
import { get, post } from "./api.js";
import { navigate } from "./nav.js";
import { PLATFORM_NAMES } from "./page-accounts.js";
import { ErrorBox, Field, Loading, useLoad, uuid, webUrl } from "./ui.js";

const PRIVACY_NAMES = {
  PUBLIC_TO_EVERYONE: "Everyone",
  MUTUAL_FOLLOW_FRIENDS: "Friends",
  FOLLOWER_OF_CREATOR: "Followers",
  SELF_ONLY: "Only me",
  public: "Public",
  unlisted: "Unlisted",
  private: "Private",
};

const blank = {
  caption: "",
  title: "",
  hashtags: "",
  privacy: "",
  disable_comment: false,
  disable_duet: false,
  disable_stitch: false,
  disclose: false,
  brand_organic: false,
  brand_content: false,
  made_for_kids: false,
  when: "now",
  at: "",
};

export function Publish({ job }) {
  const accounts = useLoad(() => get("/v1/accounts"));
  const [accountId, setAccountId] = useState("");
  const detail = useLoad(() => (accountId ? get("/v1/accounts/" + encodeURIComponent(accountId)) : Promise.resolve(null)), [accountId]);
  const [form, setForm] = useState(blank);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const idempotency = useRef(uuid());
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const choose = (e) => {
    setAccountId(e.target.value);
    setForm(blank);
    idempotency.current = uuid();
  };

  const list = accounts.data ? accounts.data.items.filter((a) => a.status === "active") : [];
  const account = detail.data;
  const creator = account && account.creator;
  const tiktok = account && account.platform === "tiktok";
  const youtube = account && account.platform === "youtube";
  const options = creator ? creator.privacy_options : [];
  const tooLong = creator && creator.max_duration_s && job.duration_s > creator.max_duration_s;
  const discloseIncomplete = tiktok && form.disclose && !form.brand_organic && !form.brand_content;
  const privateBranded = tiktok && form.brand_content && form.privacy === "SELF_ONLY";
  const blocked = !account || !creator || !!creator.cannot_post || tooLong || !form.privacy || discloseIncomplete || privateBranded || (form.when === "later" && !form.at);

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const target = {
      account_id: accountId,
      privacy: form.privacy,
      options: {
        disable_comment: form.disable_comment || (creator && creator.comment_disabled),
        disable_duet: form.disable_duet || (creator && creator.duet_disabled),
        disable_stitch: form.disable_stitch || (creator && creator.stitch_disabled),
        made_for_kids: form.made_for_kids,
        brand_organic: form.disclose && form.brand_organic,
        brand_content: form.disclose && form.brand_content,
      },
    };
    if (form.caption.trim()) target.caption = form.caption;
    if (form.title.trim()) target.title = form.title;
    const tags = form.hashtags.split(/[\s,]+/).filter(Boolean);
    if (tags.length) target.hashtags = tags;
    if (form.when === "later") target.schedule_at = new Date(form.at).toISOString();
    try {
      await post("/v1/videos/" + encodeURIComponent(job.id) + "/publish", { targets: [target] }, { idempotencyKey: idempotency.current });
      navigate("/posts");
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  if (accounts.error) return html`<${ErrorBox} error=${accounts.error} retry=${accounts.reload} />`;
  if (!accounts.data) return html`<${Loading} lines=${2} />`;
  if (list.length === 0) {
    return html`<p class="muted">No account to post to: <a href="/accounts">connect one</a> (a sandbox channel works offline).</p>`;
  }
  return html`<form class="publish" onSubmit=${submit} aria-labelledby="publish-title">
    <h2 id="publish-title">Publish</h2>
    <${Field} id="publish-account" label="Post to">
      <select id="publish-account" value=${accountId} onChange=${choose}>
        <option value="">Choose an account</option>
        ${list.map((a) => html`<option key=${a.id} value=${a.id}>${a.display_name} (${PLATFORM_NAMES[a.platform] || a.platform})</option>`)}
      </select>
    <//>
    ${accountId && detail.loading ? html`<${Loading} lines=${3} label="Asking the platform what you may post" />` : null}
    <${ErrorBox} error=${detail.error} retry=${detail.reload} />
    ${account && !creator ? html`<${ErrorBox} error=${{ status: account.creator_error && 502, code: account.creator_error && account.creator_error.error.code, message: (account.creator_error && account.creator_error.error.message) || "The platform did not say what this account may post." }} retry=${detail.reload} />` : null}
    ${account && creator ? html`
      <div class="creator">
        ${webUrl(creator.avatar_url) ? html`<img class="avatar" src=${creator.avatar_url} alt="" width="40" height="40" />` : null}
        <p>Posting as <strong>${creator.display_name || account.display_name}</strong> on ${PLATFORM_NAMES[account.platform]}${account.sandbox ? " (sandbox: never public)" : ""}.</p>
      </div>
      ${creator.restriction ? html`<p class="notice info small">${creator.restriction}</p>` : null}
      ${creator.cannot_post ? html`<p class="notice error" role="alert"><strong>You cannot post right now.</strong> ${creator.cannot_post}</p>` : null}
      ${tooLong ? html`<p class="notice error" role="alert">This video is ${job.duration_s} s; ${creator.display_name || "this account"} may post at most ${creator.max_duration_s} s.</p>` : null}
      ${youtube || account.platform === "sandbox" ? html`<${Field} id="publish-title-input" label="Title" hint="Default: the concept's title. Up to 100 characters.">
          <input id="publish-title-input" maxlength="100" value=${form.title} aria-describedby="publish-title-input-hint" onInput=${set("title")} /><//>` : null}
      <${Field} id="publish-caption" label=${tiktok ? "Title" : "Caption"} hint="Default: the concept's caption. Cut to the platform's limit, with a warning.">
        <textarea id="publish-caption" rows="3" maxlength="10000" aria-describedby="publish-caption-hint" value=${form.caption} onInput=${set("caption")}></textarea>
      <//>
      <${Field} id="publish-tags" label="Hashtags" hint="Separated by spaces. Default: the concept's.">
        <input id="publish-tags" value=${form.hashtags} aria-describedby="publish-tags-hint" onInput=${set("hashtags")} />
      <//>
      <${Field} id="publish-privacy" label="Who can see it">
        <select id="publish-privacy" required value=${form.privacy} onChange=${set("privacy")}>
          <option value="" disabled>Choose who can see it</option>
          ${options.map((o) => html`<option key=${o} value=${o} disabled=${tiktok && o === "SELF_ONLY" && form.brand_content}>${PRIVACY_NAMES[o] || o}${tiktok && o === "SELF_ONLY" && form.brand_content ? " (not for branded content)" : ""}</option>`)}
        </select>
      <//>
      ${tiktok ? html`<fieldset>
          <legend>Allow others to</legend>
          <label class="choice"><input type="checkbox" checked=${!(form.disable_comment || creator.comment_disabled)} disabled=${creator.comment_disabled} onChange=${(e) => setForm({ ...form, disable_comment: !e.target.checked })} /> Comment${creator.comment_disabled ? " (off in your TikTok settings)" : ""}</label>
          <label class="choice"><input type="checkbox" checked=${!(form.disable_duet || creator.duet_disabled)} disabled=${creator.duet_disabled} onChange=${(e) => setForm({ ...form, disable_duet: !e.target.checked })} /> Duet${creator.duet_disabled ? " (off in your TikTok settings)" : ""}</label>
          <label class="choice"><input type="checkbox" checked=${!(form.disable_stitch || creator.stitch_disabled)} disabled=${creator.stitch_disabled} onChange=${(e) => setForm({ ...form, disable_stitch: !e.target.checked })} /> Stitch${creator.stitch_disabled ? " (off in your TikTok settings)" : ""}</label>
        </fieldset>
        <fieldset>
          <legend>Commercial content</legend>
          <label class="choice"><input type="checkbox" checked=${form.disclose} onChange=${set("disclose")} /> This video promotes a brand, product or service</label>
          ${form.disclose ? html`
            <label class="choice"><input type="checkbox" checked=${form.brand_organic} onChange=${set("brand_organic")} /> Your brand: labelled “Promotional content”</label>
            <label class="choice"><input type="checkbox" checked=${form.brand_content} onChange=${set("brand_content")} /> Branded content (a paid partnership): labelled “Paid partnership”</label>
            ${discloseIncomplete ? html`<p class="notice error small" role="alert">Choose at least one, or turn the disclosure off.</p>` : null}
            ${privateBranded ? html`<p class="notice error small" role="alert">Branded content cannot be private: choose who else can see it.</p>` : null}` : null}
        </fieldset>` : html`<fieldset>
          <legend>Comments</legend>
          <label class="choice"><input type="checkbox" checked=${!form.disable_comment} onChange=${(e) => setForm({ ...form, disable_comment: !e.target.checked })} /> Allow comments</label>
        </fieldset>`}
      ${youtube ? html`<fieldset>
          <legend>Made for kids (required by YouTube)</legend>
          <label class="choice"><input type="radio" name="mfk" checked=${!form.made_for_kids} onChange=${() => setForm({ ...form, made_for_kids: false })} /> No, it is not made for kids</label>
          <label class="choice"><input type="radio" name="mfk" checked=${form.made_for_kids} onChange=${() => setForm({ ...form, made_for_kids: true })} /> Yes, it is made for kids</label>
        </fieldset>` : null}
      <fieldset>
        <legend>When</legend>
        <label class="choice"><input type="radio" name="when" value="now" checked=${form.when === "now"} onChange=${set("when")} /> Now</label>
        <label class="choice"><input type="radio" name="when" value="later" checked=${form.when === "later"} onChange=${set("when")} /> At a time</label>
        ${form.when === "later" ? html`<${Field} id="publish-at" label="Date and time (your time zone)">
            <input id="publish-at" type="datetime-local" required value=${form.at} onInput=${set("at")} /><//>` : null}
      </fieldset>
      <p class="small">The video is labelled as AI-generated wherever ${PLATFORM_NAMES[account.platform]} has a label for it.</p>
      <p class="small consent">${tiktok
        ? html`By posting, you agree to TikTok's <a href="https://www.tiktok.com/legal/page/global/music-usage-confirmation/en" target="_blank" rel="noopener noreferrer">Music Usage Confirmation</a>${form.brand_content ? html` and <a href="https://www.tiktok.com/legal/page/global/bc-policy/en" target="_blank" rel="noopener noreferrer">Branded Content Policy</a>` : null}.`
        : html`By posting, you confirm you may publish this video on ${PLATFORM_NAMES[account.platform]} as ${creator.display_name || account.display_name}.`}</p>
      <button type="submit" class="primary" disabled=${busy || blocked}>${busy ? "Publishing…" : form.when === "later" ? "Schedule post" : "Post"}</button>
      <${ErrorBox} error=${error} />
    ` : null}
  </form>`;
}
