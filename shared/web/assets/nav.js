// Moving between pages without a reload.

export function navigate(path, replace) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  dispatchEvent(new Event("viral:navigate"));
}
