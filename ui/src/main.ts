import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { followSystemScheme } from './lib/settings/theme';

// Light or dark as the system is, until the saved Appearance setting is read.
followSystemScheme();

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

export default mount(App, { target });
