// Gatehouse's passkey ceremonies in the browser: the issuer's pages load this script (their
// Content-Security-Policy allows scripts from the site only) and it wires the buttons with the
// ids below to the issuer's JSON endpoints, whose base path is the script tag's data-base.
(() => {
	'use strict';
	const script = document.currentScript;
	const base = script.dataset.base || '';

	const b64u = {
		decode(s) {
			const pad = '='.repeat((4 - (s.length % 4)) % 4);
			const bin = atob((s + pad).replace(/-/g, '+').replace(/_/g, '/'));
			return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
		},
		encode(buf) {
			const bytes = new Uint8Array(buf);
			let bin = '';
			for (const b of bytes) bin += String.fromCharCode(b);
			return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
		},
	};

	async function post(path, body) {
		const resp = await fetch(base + path, {
			method: 'POST',
			credentials: 'same-origin',
			headers: { 'Content-Type': 'application/json' },
			body: body === undefined ? '{}' : JSON.stringify(body),
		});
		let data = {};
		try { data = await resp.json(); } catch (e) { /* not JSON */ }
		if (!resp.ok) {
			throw new Error(data.detail || `The server answered ${resp.status}.`);
		}
		return data;
	}

	function show(id, msg) {
		const el = document.getElementById(id);
		if (el) {
			el.textContent = msg;
			el.hidden = false;
		}
	}

	async function register() {
		const { publicKey } = await post('/factors/passkey/begin');
		publicKey.challenge = b64u.decode(publicKey.challenge);
		publicKey.user.id = b64u.decode(publicKey.user.id);
		for (const c of publicKey.excludeCredentials || []) c.id = b64u.decode(c.id);
		const cred = await navigator.credentials.create({ publicKey });
		await post('/factors/passkey/finish', {
			id: cred.id,
			rawId: b64u.encode(cred.rawId),
			type: cred.type,
			response: {
				clientDataJSON: b64u.encode(cred.response.clientDataJSON),
				attestationObject: b64u.encode(cred.response.attestationObject),
				transports: cred.response.getTransports ? cred.response.getTransports() : [],
			},
			clientExtensionResults: cred.getClientExtensionResults(),
		});
		location.reload();
	}

	async function login() {
		const next = document.querySelector('input[name=next]');
		const q = next && next.value ? '?next=' + encodeURIComponent(next.value) : '';
		const { publicKey } = await post('/login/passkey/begin' + q);
		publicKey.challenge = b64u.decode(publicKey.challenge);
		for (const c of publicKey.allowCredentials || []) c.id = b64u.decode(c.id);
		const cred = await navigator.credentials.get({ publicKey });
		const r = cred.response;
		const done = await post('/login/passkey/finish', {
			id: cred.id,
			rawId: b64u.encode(cred.rawId),
			type: cred.type,
			response: {
				clientDataJSON: b64u.encode(r.clientDataJSON),
				authenticatorData: b64u.encode(r.authenticatorData),
				signature: b64u.encode(r.signature),
				userHandle: r.userHandle ? b64u.encode(r.userHandle) : undefined,
			},
			clientExtensionResults: cred.getClientExtensionResults(),
		});
		location.assign(done.next || '/');
	}

	function wire(id, fn) {
		const el = document.getElementById(id);
		if (!el) return;
		el.hidden = false;
		el.addEventListener('click', () => {
			fn().catch((e) => show('passkey-error', e.message || String(e)));
		});
	}
	wire('passkey-register', register);
	wire('passkey-login', login);
})();
