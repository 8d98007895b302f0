/**
 * The n8n editor in headless Debian Chromium (playwright-core): the node must
 * load (no "install this node" prompt), its panel must render its parameters,
 * and a test run in the editor must show the labels. Screenshots go to docs/.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { type Browser, chromium, type Page } from 'playwright-core';

const DOCS = path.join(__dirname, '..', '..', 'docs');
const OWNER = { email: 'owner@example.com', firstName: 'Ada', lastName: 'Owner', password: 'E2e-Passw0rd!' };

async function login(page: Page, baseUrl: string): Promise<void> {
	const setup = await page.request.post(`${baseUrl}/rest/owner/setup`, { data: OWNER });
	if (!setup.ok() && setup.status() !== 400) throw new Error(`owner setup failed: ${setup.status()} ${await setup.text()}`);
	const res = await page.request.post(`${baseUrl}/rest/login`, {
		data: { emailOrLdapLoginId: OWNER.email, password: OWNER.password },
	});
	if (!res.ok()) throw new Error(`login failed: ${res.status()} ${await res.text()}`);
}

/**
 * The Hub source's From List, as the editor asks n8n for it. This machine has
 * no route to the Hub, so the live search fails and the curated catalog must
 * still come back.
 */
async function checkHubModelList(page: Page, baseUrl: string): Promise<void> {
	const res = await page.request.post(`${baseUrl}/rest/dynamic-node-parameters/resource-locator-results`, {
		data: {
			path: 'parameters.model',
			nodeTypeAndVersion: { name: 'n8n-nodes-audio-classification.audioClassification', version: 1 },
			currentNodeParameters: { modelSource: 'huggingFaceHub' },
			methodName: 'searchModels',
			filter: 'command',
		},
	});
	if (!res.ok()) throw new Error(`model list request failed: ${res.status()} ${await res.text()}`);
	const body = (await res.json()) as { data: { results: Array<{ value: string }> } };
	const values = body.data.results.map((r) => r.value);
	if (!values.includes('Xenova/ast-finetuned-speech-commands-v2')) {
		throw new Error(`the model list lacks the curated commands model: ${JSON.stringify(values)}`);
	}
}

export async function checkEditor(baseUrl: string, workflowId: string): Promise<void> {
	mkdirSync(DOCS, { recursive: true });
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
		args: [
			'--headless',
			'--no-sandbox',
			'--disable-gpu',
			'--disable-quic',
			'--no-first-run',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
		],
	});
	try {
		const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
		const page = await context.newPage();
		await login(page, baseUrl);
		await checkHubModelList(page, baseUrl);
		await page.goto(`${baseUrl}/workflow/${workflowId}`);
		const node = page.locator('[data-test-id="canvas-node"]').filter({ hasText: 'Audio Classification' });
		await node.first().waitFor({ timeout: 60_000 });
		await page.keyboard.press('Escape'); // close any welcome popover
		await page.screenshot({ path: path.join(DOCS, 'editor-workflow.png') });
		const body = await page.locator('body').innerText();
		if (/install (this )?node|not currently installed|unknown node/i.test(body)) {
			throw new Error('The editor shows the node as missing/unknown');
		}

		await node.first().dblclick();
		const ndv = page.locator('[data-test-id="ndv"]');
		await ndv.waitFor({ timeout: 30_000 });
		for (const label of ['Input Binary Field', 'Model Source', 'Built-In Model', 'Top K', 'Output Mode']) {
			await ndv.getByText(label, { exact: true }).first().waitFor({ timeout: 10_000 });
		}
		await page.screenshot({ path: path.join(DOCS, 'editor-node-panel.png') });
		await page.keyboard.press('Escape');
		await ndv.waitFor({ state: 'hidden', timeout: 10_000 });

		await page.locator('[data-test-id="execute-workflow-button"]').first().click();
		// success toast or the nodes turning green; then read the node's output in its panel
		await page.getByText(/Workflow executed successfully|executed successfully/i).first().waitFor({ timeout: 120_000 });
		await node.first().dblclick();
		await ndv.waitFor({ timeout: 30_000 });
		const output = ndv.locator('[data-test-id="output-panel"]');
		// items carry the audio, so n8n opens the Binary tab: switch to the table
		await output.getByText('Table', { exact: true }).first().click();
		await output.getByText('speech-commands-dscnn').first().waitFor({ timeout: 30_000 });
		await page.screenshot({ path: path.join(DOCS, 'editor-run-output.png') });
		const shown = await output.innerText();
		for (const expected of ['label', 'stop', 'score', '0.99', 'labels']) {
			if (!shown.includes(expected)) throw new Error(`output panel lacks "${expected}": ${shown.slice(0, 500)}`);
		}
	} finally {
		await browser.close();
	}
}

/** Headless Debian Chromium (CHROMIUM_PATH to use another). */
async function launchChromium(): Promise<Browser> {
	return await chromium.launch({
		executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
}

/** A logged-in page on the workflow's canvas. */
async function openWorkflow(browser: Browser, baseUrl: string, workflowId: string): Promise<Page> {
	const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
	const page = await context.newPage();
	await login(page, baseUrl);
	await page.goto(`${baseUrl}/workflow/${workflowId}`);
	return page;
}

/**
 * The Detect Events example in the editor: run it, open the node's output, and
 * open its timeline picture in n8n's binary viewer (screenshots in docs/).
 */
export async function checkTimelineInEditor(baseUrl: string, workflowId: string): Promise<void> {
	const browser = await launchChromium();
	try {
		const page = await openWorkflow(browser, baseUrl, workflowId);
		const node = page.locator('[data-test-id="canvas-node"]').filter({ hasText: 'Audio Classification' });
		await node.first().waitFor({ timeout: 60_000 });
		await page.keyboard.press('Escape');
		await page.locator('[data-test-id="execute-workflow-button"]').first().click();
		await page.getByText(/Workflow executed successfully|executed successfully/i).first().waitFor({ timeout: 120_000 });
		await node.first().dblclick();
		const ndv = page.locator('[data-test-id="ndv"]');
		await ndv.waitFor({ timeout: 30_000 });
		const output = ndv.locator('[data-test-id="output-panel"]');
		await output.getByText('Binary', { exact: true }).first().click();
		await output.getByText('timeline', { exact: true }).first().waitFor({ timeout: 30_000 });
		await page.screenshot({ path: path.join(DOCS, 'editor-detect-events-output.png') });
		// Each binary field is a card with View / Download: the timeline is the second field of the item.
		const views = output.getByRole('button', { name: 'View' });
		await views.nth(1).click();
		// the picture itself, decoded by the browser at its real size
		await page.waitForFunction('Array.from(document.images).some((img) => img.complete && img.naturalWidth === 1200 && img.naturalHeight === 240)', undefined, {
			timeout: 30_000,
		});
		await page.screenshot({ path: path.join(DOCS, 'editor-detect-events-timeline.png') });
	} finally {
		await browser.close();
	}
}

/**
 * The Audio Event Trigger's "Listen for test event" in the editor: open the
 * trigger, listen, and wait until the panel shows the first event heard in the
 * stream (screenshot in docs/). Returns the output panel's text.
 */
export async function checkTriggerTestEventInEditor(baseUrl: string, workflowId: string): Promise<string> {
	mkdirSync(DOCS, { recursive: true });
	const browser = await launchChromium();
	try {
		const page = await openWorkflow(browser, baseUrl, workflowId);
		const node = page.locator('[data-test-id="canvas-node"]').filter({ hasText: 'Audio Event Trigger' });
		await node.first().waitFor({ timeout: 60_000 });
		await page.keyboard.press('Escape');
		await node.first().dblclick();
		const ndv = page.locator('[data-test-id="ndv"]');
		await ndv.waitFor({ timeout: 30_000 });
		await ndv.getByText('Stream URL', { exact: true }).first().waitFor({ timeout: 10_000 });
		await ndv.locator('[data-test-id="node-execute-button"]').first().click();
		const output = ndv.locator('[data-test-id="output-panel"]');
		try {
			await output.getByText('1 item', { exact: true }).first().waitFor({ timeout: 90_000 });
		} catch (error) {
			await page.screenshot({ path: path.join(tmpdir(), 'trigger-test-event-failed.png') });
			throw new Error(`no test event shown (${(error as Error).message.split('\n')[0]}); the panel showed: ${(await ndv.innerText()).slice(0, 1500)}`);
		}
		// the item carries the clip, so n8n may open its Binary tab: the table shows the fields
		await output.getByText('Table', { exact: true }).first().click();
		await output.getByText('streamOffset').first().waitFor({ timeout: 10_000 });
		await page.mouse.move(900, 600); // no tooltip over the table
		await page.waitForTimeout(500);
		await page.screenshot({ path: path.join(DOCS, 'editor-trigger-test-event.png') });
		return await output.innerText();
	} finally {
		await browser.close();
	}
}
