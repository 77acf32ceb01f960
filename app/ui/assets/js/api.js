// The one way the pages talk to the JSON API: same-origin fetch with the
// session cookie, errors turned into words, and a 401 handed to whoever
// shows the sign-in form (main.js), which brings the user back afterwards.

export class ApiError extends Error {
  constructor(status, message, body = {}, headers = null) {
    super(message);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

let onUnauthorized = () => {};

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/** Relative to the page, so the UI also works under a path prefix. */
export function apiUrl(path, query) {
  const url = new URL(path.replace(/^\//, ""), document.baseURI);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
  }
  return url.href;
}

/** The reason in an error body, in words (422 lists the fields). */
export function reasonOf(status, body) {
  if (body && Array.isArray(body.errors) && body.errors.length) {
    const parts = body.errors.slice(0, 3).map((e) => {
      const where = Array.isArray(e.loc) ? e.loc.filter((p) => p !== "body").join(".") : "";
      return where ? `${where}: ${e.msg}` : e.msg;
    });
    return `${body.detail || "Refused"}: ${parts.join("; ")}`;
  }
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) return body.detail.map((e) => e.msg).join("; ");
  if (status === 404) return "Not found.";
  if (status >= 500) return `The service had a problem (HTTP ${status}). Try again in a moment.`;
  return `The request was refused (HTTP ${status}).`;
}

/**
 * api("api/audio", {query: {q}}) → parsed JSON (null for 204).
 * Options: method, json (a body), body (FormData or Blob), query, headers, skipAuth (no sign-in on 401).
 */
export async function api(path, options = {}) {
  const { method = "GET", json, body, query, headers = {}, skipAuth = false, signal } = options;
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin", signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(apiUrl(path, query), init);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, "Could not reach the service. Check the connection and try again.");
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text.slice(0, 200) }; }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, reasonOf(response.status, data), data || {}, response.headers);
    if (response.status === 401 && !skipAuth) onUnauthorized(error);
    throw error;
  }
  return data;
}

/** A list answer as an array, whatever it is wrapped in. */
export function listOf(data, ...keys) {
  if (Array.isArray(data)) return data;
  for (const key of [...keys, "items", "results"]) {
    if (data && Array.isArray(data[key])) return data[key];
  }
  return [];
}

/** Send a file to an upload target with progress (XMLHttpRequest: fetch has no upload progress). */
export function sendToTarget(target, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const method = (target.method || "POST").toUpperCase();
    xhr.open(method, new URL(target.url, document.baseURI).href);
    for (const [key, value] of Object.entries(target.headers || {})) xhr.setRequestHeader(key, value);
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) { onProgress(1); resolve(); return; }
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { data = null; }
      // S3 answers XML: its <Message> is the reason.
      const s3 = /<Message>([^<]*)<\/Message>/.exec(xhr.responseText || "");
      reject(new ApiError(xhr.status, data ? reasonOf(xhr.status, data) : s3 ? s3[1] : reasonOf(xhr.status, null)));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "The upload was cut off. Check the connection and try again.")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "The upload was stopped.")));
    if (method === "PUT") {
      xhr.send(file);
    } else {
      const form = new FormData();
      for (const [key, value] of Object.entries(target.fields || {})) form.append(key, value);
      form.append(target.file_field || "file", file, file.name || "upload");
      xhr.send(form);
    }
  });
}
