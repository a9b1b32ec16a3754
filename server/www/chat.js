/*
 * siogate demo chat page.
 *
 * Chat protocol between this page and the server's "chat" app (namespace "/"):
 *
 *   page -> server
 *     "add user"    (username, room, ack)  once, after the user picked a name;
 *                   room defaults to "lobby" on the server when empty.
 *                   ack({room, count}) confirms the join.
 *     "new message" (text)                 a chat line (string)
 *     "typing"      ()                     the user started typing
 *     "stop typing" ()                     the user stopped (idle 1 s, or sent)
 *
 *   server -> page (all scoped to the user's room)
 *     "user joined" {username}             someone else entered the room
 *     "user left"   {username}             someone left (disconnected)
 *     "user count"  {room, count}          sockets in the room; sent to the
 *                                          whole room on join and on leave
 *     "new message" {username, message}    a line from someone else (the
 *                                          sender shows its own line locally)
 *     "typing"      {username}
 *     "stop typing" {username}
 *
 * The full server-side contract (ordering, validation) is written down at the
 * top of tests/integration/ref-server.js.
 */
(function () {
  'use strict';

  var TYPING_IDLE_MS = 1000;

  var $ = function (id) { return document.getElementById(id); };
  var joinView = $('join-view');
  var chatView = $('chat-view');
  var joinForm = $('join-form');
  var nameInput = $('name-input');
  var roomInput = $('room-input');
  var joinButton = $('join-button');
  var joinStatus = $('join-status');
  var roomName = $('room-name');
  var userCount = $('user-count');
  var connection = $('connection');
  var messages = $('messages');
  var typingLine = $('typing');
  var messageForm = $('message-form');
  var messageInput = $('message-input');

  var me = null;          // chosen user name
  var room = null;        // joined room
  var typingTimer = null; // pending "stop typing"
  var typers = new Map(); // username -> true, people typing right now

  var socket = io({ autoConnect: false });

  // ---- rendering -------------------------------------------------------
  function addLine(kind, author, text) {
    var li = document.createElement('li');
    li.className = kind;
    if (author !== null) {
      var who = document.createElement('span');
      who.className = 'author';
      who.textContent = author;
      li.appendChild(who);
    }
    var body = document.createElement('span');
    body.className = 'text';
    body.textContent = text;
    li.appendChild(body);
    messages.appendChild(li);
    messages.scrollTop = messages.scrollHeight;
  }

  function renderTyping() {
    var names = Array.from(typers.keys());
    if (names.length === 0) typingLine.textContent = '';
    else if (names.length === 1) typingLine.textContent = names[0] + ' is typing…';
    else typingLine.textContent = names.join(', ') + ' are typing…';
  }

  function renderCount(count) {
    userCount.textContent = count === 1 ? '1 user' : count + ' users';
    userCount.dataset.count = String(count);
  }

  function setOnline(online) {
    connection.textContent = online ? 'online' : 'offline';
    connection.classList.toggle('online', online);
  }

  // ---- joining -----------------------------------------------------------
  joinForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var name = nameInput.value.trim();
    var wanted = roomInput.value.trim() || 'lobby';
    if (!name) {
      joinStatus.textContent = 'Please enter a name.';
      return;
    }
    me = name;
    joinButton.disabled = true;
    joinStatus.textContent = '';
    socket.connect();
    addUser(wanted);
  });

  function addUser(wanted) {
    socket.emit('add user', me, wanted, function (res) {
      room = res.room;
      roomName.textContent = room;
      renderCount(res.count);
      joinView.hidden = true;
      chatView.hidden = false;
      messageInput.focus();
      addLine('notice', null, 'You joined #' + room + ' as ' + me);
    });
  }

  // ---- sending -----------------------------------------------------------
  messageForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var text = messageInput.value.trim();
    if (!text || !room) return;
    socket.emit('new message', text);
    addLine('mine', me, text);
    messageInput.value = '';
    stopTyping();
  });

  messageInput.addEventListener('input', function () {
    if (!room) return;
    if (messageInput.value === '') {
      stopTyping();
      return;
    }
    if (typingTimer === null) socket.emit('typing');
    else clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  });

  function stopTyping() {
    if (typingTimer === null) return;
    clearTimeout(typingTimer);
    typingTimer = null;
    socket.emit('stop typing');
  }

  // ---- receiving ---------------------------------------------------------
  socket.on('connect', function () { setOnline(true); });
  socket.on('disconnect', function () { setOnline(false); });
  socket.on('connect_error', function (err) {
    joinStatus.textContent = 'Cannot connect: ' + err.message;
    joinButton.disabled = false;
  });
  // after a reconnection the server has forgotten us: enter the room again
  socket.io.on('reconnect', function () {
    if (room) addUser(room);
  });

  socket.on('new message', function (data) {
    typers.delete(data.username);
    renderTyping();
    addLine('theirs', data.username, data.message);
  });
  socket.on('user joined', function (data) {
    addLine('notice', null, data.username + ' joined');
  });
  socket.on('user left', function (data) {
    typers.delete(data.username);
    renderTyping();
    addLine('notice', null, data.username + ' left');
  });
  socket.on('user count', function (data) {
    if (data.room === room || room === null) renderCount(data.count);
  });
  socket.on('typing', function (data) {
    typers.set(data.username, true);
    renderTyping();
  });
  socket.on('stop typing', function (data) {
    typers.delete(data.username);
    renderTyping();
  });
})();
